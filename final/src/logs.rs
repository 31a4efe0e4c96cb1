//! `logs`: the json-file log back as the container wrote it, stdout to
//! stdout and stderr to stderr; `-f` follows it while the container runs.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::cli::LogsArgs;
use crate::context::Engine;
use crate::logfile::{Entry, LOG, read_all};
use crate::lookup::find;
use crate::record::Record;
use crate::time::parse_point;
use crate::{Error, Result};

pub fn logs(engine: &Engine, args: &LogsArgs) -> Result<i32> {
    let found = find(engine, &args.container)?;
    let point = |t: &Option<String>, flag: &str| {
        t.as_deref()
            .map(|t| {
                parse_point(t).ok_or_else(|| {
                    Error::invalid(format!(
                        "{flag} {t:?}: use a time (2026-12-02T15:00:00Z), Unix seconds, or a duration such as 10m"
                    ))
                })
            })
            .transpose()
    };
    let since = point(&args.since, "--since")?;
    let until = point(&args.until, "--until")?;
    let tail: Option<usize> = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| Error::invalid(format!("--tail {n:?}: a number of lines, or all")))?,
        ),
    };
    let path = found.dir().join(LOG);
    let keep = |e: &Entry| {
        let t = e.nanos();
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
    };
    let mut entries: Vec<Entry> = read_all(&path).into_iter().filter(|e| keep(e)).collect();
    if let Some(n) = tail {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    for e in &entries {
        print_entry(e, args.timestamps);
    }
    if args.follow && until.is_none() {
        follow(&path, found.dir(), args.timestamps, &keep);
    }
    Ok(0)
}

fn print_entry(e: &Entry, timestamps: bool) {
    let text = if timestamps {
        format!("{} {}", e.time, e.log)
    } else {
        e.log.clone()
    };
    if e.stream == "stderr" {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let mut out = std::io::stdout();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

// ANCHOR: follow
/// Prints what is appended to the log while the container's monitor
/// lives; starts over at a rotation (the file shrinks or is replaced).
fn follow(path: &Path, dir: &Path, timestamps: bool, keep: &dyn Fn(&Entry) -> bool) {
    let open = || File::open(path).ok().map(BufReader::new);
    let Some(mut reader) = open() else { return };
    let _ = reader.seek(SeekFrom::End(0));
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => {
                if let Ok(e) = serde_json::from_str::<Entry>(&line)
                    && keep(&e)
                {
                    print_entry(&e, timestamps);
                }
                continue;
            }
            Ok(n) if n > 0 => {
                // Half a line: read it again once complete.
                let back = -(n as i64);
                let _ = reader.seek_relative(back);
            }
            _ => {}
        }
        let running = Record::read(dir)
            .ok()
            .flatten()
            .is_some_and(|r| r.monitor_alive());
        if !running {
            // What the monitor wrote just before it exited.
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            for line in rest.lines() {
                if let Ok(e) = serde_json::from_str::<Entry>(line)
                    && keep(&e)
                {
                    print_entry(&e, timestamps);
                }
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
        let position = reader.stream_position().unwrap_or(0);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size < position
            && let Some(r) = open()
        {
            reader = r; // rotated
        }
    }
}
// ANCHOR_END: follow
