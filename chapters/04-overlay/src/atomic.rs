//! Writing a file so that a reader, and a crash, see the old content or
//! the new one, never half of either.
//!
//! The new content goes to a temporary file in the same directory (so the
//! rename cannot cross filesystems), is flushed to disk (`fsync`), and is
//! renamed over the old name: rename replaces atomically. The directory is
//! flushed last, or after a power cut the rename itself may be lost, or the
//! new name may point at a file whose data never reached the disk.
//!
//! The state roots of chapters 4 to 6 all write this way: a container's
//! record and `pid` file, chapter 5's networks and address allocations,
//! chapter 6's blobs and references.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;
use crate::owner::process_alive;

/// Temporary files start with this, then the writer's pid: a later sweep
/// removes those of writers that are gone.
pub const TEMP_PREFIX: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name, `.tmp-<pid>-<n>`: unique among this process's
/// writers, and telling a sweep whose it is.
pub fn temp_name() -> String {
    format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The temporary path next to `path` (same directory, same filesystem).
pub fn temp_path(path: &Path) -> PathBuf {
    path.with_file_name(temp_name())
}

/// The temporaries in `dir` whose writer is gone: what a killed write left
/// behind, for the caller to remove. A live writer's are not listed.
pub fn stale_temporaries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let writer = name
                .to_str()
                .and_then(|n| n.strip_prefix(TEMP_PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            writer.is_some_and(|pid| !process_alive(pid))
        })
        .map(|entry| entry.path())
        .collect()
}

// ANCHOR: write_atomic
/// Replaces `path` with `contents`: all of it, or (after a failure or a
/// crash) the old file untouched.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    write(path, contents, Flush::DataAndName)
}

/// [`write_atomic`] without the flushes, for a file that means nothing
/// after a reboot (a `pid` file names a process a power cut ended anyway):
/// readers still never see half of it, and a run saves two `fsync`s.
pub fn write_atomic_volatile(path: &Path, contents: &[u8]) -> Result<(), Error> {
    write(path, contents, Flush::Nothing)
}

/// [`write_atomic`] for a file that a crash may roll back: the new data is
/// flushed before the rename (so no reader, and no reboot, ever finds half
/// of it), but the rename is not waited for, so after a power cut the
/// previous version may be back. One flush instead of two, for a state
/// that is read again with a liveness check anyway.
pub fn write_atomic_replace(path: &Path, contents: &[u8]) -> Result<(), Error> {
    write(path, contents, Flush::Data)
}

/// How much of an atomic write reaches the disk before it returns.
#[derive(Clone, Copy, PartialEq)]
enum Flush {
    Nothing,
    Data,
    DataAndName,
}

fn write(path: &Path, contents: &[u8], flush: Flush) -> Result<(), Error> {
    let temp = temp_path(path);
    let written = File::create(&temp)
        .and_then(|mut file| {
            file.write_all(contents)?;
            Ok(file)
        })
        .and_then(|file| match flush {
            Flush::DataAndName => publish(file, &temp, path),
            Flush::Data => file.sync_all().and_then(|()| fs::rename(&temp, path)),
            Flush::Nothing => fs::rename(&temp, path),
        });
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.map_err(|e| Error::engine(format!("writing {}: {e}", path.display())))
}

/// Makes the complete file `file`, written at `temp`, visible as `target`:
/// its data durable first, then the rename, then the directory entry.
pub fn publish(file: File, temp: &Path, target: &Path) -> io::Result<()> {
    file.sync_all()?;
    drop(file);
    fs::rename(temp, target)?;
    sync_dir(target)
}
// ANCHOR_END: write_atomic

/// Flushes the directory holding `path` (its entries: a rename, a create).
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_content_replaces_the_old_and_no_temporary_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        write_atomic_volatile(&path, b"newer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        write_atomic_replace(&path, b"newest").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newest");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir/config.json");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert!(err.message.starts_with("writing "), "{err}");
        assert!(!dir.path().join("missing-dir").exists());
        assert!(temp_name().starts_with(&format!(".tmp-{}-", std::process::id())));
        assert_ne!(temp_name(), temp_name());
    }

    #[test]
    fn only_the_temporaries_of_gone_writers_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".tmp-2147483646-0");
        for name in [".tmp-2147483646-0", "config.json", ".tmp-junk"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::write(dir.path().join(temp_name()), b"x").unwrap();
        assert_eq!(stale_temporaries(dir.path()), [dead]);
    }
}
