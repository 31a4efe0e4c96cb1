//! The container's log in Docker's json-file format: one JSON object per
//! line of output, `{"log":"hello\n","stream":"stdout","time":"..."}`,
//! rotated at `--log-opt max-size` into `max-file` files (`log.1` is the
//! newest rotated one).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::time::{now_nanos, parse_rfc3339, rfc3339};

/// The log's file name in the container's directory.
pub const LOG: &str = "container.log";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

impl Entry {
    pub fn nanos(&self) -> u128 {
        parse_rfc3339(&self.time).unwrap_or(0)
    }
}

/// Appends output to the log, a line at a time, rotating it.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    /// A line not finished yet, per stream (stdout, stderr).
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (appending to) the log at `path`. `max_size` 0: no limit.
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<LogWriter> {
        let file = File::options().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    // ANCHOR: write
    /// Takes output of `stream` (0 stdout, 1 stderr): every complete line
    /// becomes one entry; the rest waits for its end.
    pub fn write(&mut self, stream: usize, data: &[u8]) -> std::io::Result<()> {
        let mut pending = std::mem::take(&mut self.partial[stream]);
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = pending[start..start + end + 1].to_vec();
            self.entry(stream, &line)?;
            start += end + 1;
        }
        // A very long line is cut, as Docker cuts at 16 KiB.
        if pending.len() - start >= 16 * 1024 {
            let line = pending[start..].to_vec();
            self.entry(stream, &line)?;
            start = pending.len();
        }
        self.partial[stream] = pending.split_off(start);
        Ok(())
    }

    /// Writes what is left of unfinished lines (at the container's exit).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for stream in 0..2 {
            let rest = std::mem::take(&mut self.partial[stream]);
            if !rest.is_empty() {
                self.entry(stream, &rest)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: usize, line: &[u8]) -> std::io::Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.to_string(),
            time: rfc3339(now_nanos()),
        };
        let mut json = serde_json::to_vec(&entry)?;
        json.push(b'\n');
        if self.max_size > 0 && self.size + json.len() as u64 > self.max_size && self.size > 0 {
            self.rotate()?;
        }
        self.file.write_all(&json)?;
        self.size += json.len() as u64;
        Ok(())
    }
    // ANCHOR_END: write

    // ANCHOR: rotate
    /// `log` becomes `log.1`, `log.1` becomes `log.2`..., the oldest beyond
    /// `max_files` goes.
    fn rotate(&mut self) -> std::io::Result<()> {
        let rotated = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(rotated(self.max_files - 1));
        for n in (1..self.max_files - 1).rev() {
            let _ = std::fs::rename(rotated(n), rotated(n + 1));
        }
        std::fs::rename(&self.path, rotated(1))?;
        self.file = File::options().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
    // ANCHOR_END: rotate
}

/// The log's files, oldest first: `log.N` ... `log.1`, `log`.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    if let (Some(dir), Some(name)) = (path.parent(), name)
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(n) = file
                .strip_prefix(&format!("{name}."))
                .and_then(|n| n.parse().ok())
            {
                rotated.push((n, entry.path()));
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut all: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    all.push(path.to_path_buf());
    all
}

/// Every entry of `reader` (lines that do not parse are skipped: a line
/// being written as we read).
pub fn entries(reader: impl BufRead) -> Vec<Entry> {
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// All entries of the log, oldest first.
pub fn read_all(path: &Path) -> Vec<Entry> {
    files(path)
        .iter()
        .filter_map(|p| File::open(p).ok())
        .flat_map(|f| entries(BufReader::new(f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_entries_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOG);
        let mut log = LogWriter::open(&path, 200, 3).unwrap();
        log.write(0, b"hel").unwrap();
        log.write(0, b"lo\nwor").unwrap();
        log.write(1, b"oops\n").unwrap();
        log.flush().unwrap();
        let all = read_all(&path);
        let texts: Vec<_> = all
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("stdout", "hello\n"),
                ("stderr", "oops\n"),
                ("stdout", "wor")
            ]
        );
        for i in 0..20 {
            log.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        // Three files at most, the newest lines kept in order.
        assert_eq!(files(&path).len(), 3);
        let all = read_all(&path);
        assert_eq!(all.last().unwrap().log, "line 19\n");
        let numbers: Vec<_> = all
            .iter()
            .filter_map(|e| e.log.strip_prefix("line "))
            .collect();
        assert!(numbers.windows(2).all(|w| {
            w[0].trim().parse::<u32>().unwrap() + 1 == w[1].trim().parse::<u32>().unwrap()
        }));
    }
}
