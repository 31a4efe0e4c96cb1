//! The state root: where containers live between commands.
//!
//! ```text
//! <root>/                      --root, default /var/lib/berth-ch04
//!   lock                       held while a container is created or removed
//!   containers/<id>/
//!     config.json              id, name, storage, lowers, created, ...
//!     pid                      the process using it (creating or running): pid and start time
//!     upper/  work/  merged/   overlay: writes, scratch, the mount point
//!     merged/                  vfs: a full copy of the layers
//! ```
//!
//! `config.json` is written last: a directory without it is a creation
//! that did not finish, and a sweep removes it once its process is gone.
//! A `config.json` that is there but cannot be read (a damaged disk, a
//! hand edit) is another matter: the upper directory beside it may hold
//! someone's work. Such a container is listed as unreadable and kept,
//! until `rm` names it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::storage::Storage;
use crate::{Error, id};

/// The default state root of the chapter's binary.
pub const DEFAULT_ROOT: &str = "/var/lib/berth-ch04";

pub const CONTAINERS: &str = "containers";
pub const CONFIG: &str = "config.json";
pub const PID: &str = "pid";
pub const UPPER: &str = "upper";
pub const WORK: &str = "work";
pub const MERGED: &str = "merged";

// ANCHOR: config
/// The metadata file of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub id: String,
    pub name: String,
    pub storage: Storage,
    /// The read-only layers, lowest first.
    pub lowers: Vec<PathBuf>,
    /// Seconds since the Unix epoch.
    pub created: u64,
    pub read_only: bool,
    /// `--rm`: removed when its run ends (or by a sweep, if the run died).
    pub auto_remove: bool,
    /// The id maps of its user namespace, if it has one: overlay stacks
    /// idmapped views of the layers; vfs copied them with shifted owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns: Option<crate::idmapped::IdMapping>,
}
// ANCHOR_END: config

impl Config {
    pub fn short_id(&self) -> &str {
        id::short_id(&self.id)
    }

    /// Reads `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Config, Error> {
        let path = dir.join(CONFIG);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::engine(format!("reading {}: {e}", path.display())))?;
        Config::parse(&path, &text)
    }

    /// Reads `dir/config.json` if there is one: `Ok(None)` when it is
    /// missing (a creation that did not finish), an error when it is there
    /// but cannot be read or parsed (the container is then unreadable).
    pub fn read_record(dir: &Path) -> Result<Option<Config>, Error> {
        let path = dir.join(CONFIG);
        match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::engine(format!("reading {}: {e}", path.display()))),
            Ok(text) => Config::parse(&path, &text).map(Some),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        serde_json::from_str(text)
            .map_err(|e| Error::engine(format!("{} is damaged: {e}", path.display())))
    }

    /// Writes `dir/config.json` atomically and durably: a reader never sees
    /// half of it, and a crash leaves the old record or the new one.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).expect("a config serialises");
        crate::atomic::write_atomic(&dir.join(CONFIG), (text + "\n").as_bytes())
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// "5 seconds ago", "3 minutes ago", as `docker ps` says it.
pub fn ago(seconds: u64) -> String {
    let (n, unit) = match seconds {
        0 => return "Less than a second ago".to_string(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86400 => (s / 3600, "hour"),
        s => (s / 86400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(ago(0), "Less than a second ago");
        assert_eq!(ago(1), "1 second ago");
        assert_eq!(ago(59), "59 seconds ago");
        assert_eq!(ago(120), "2 minutes ago");
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(86400 * 3), "3 days ago");
    }

    #[test]
    fn config_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            id: "ab".repeat(32),
            name: "web".into(),
            storage: Storage::Vfs,
            lowers: vec!["/layers/base".into()],
            created: 1_700_000_000,
            read_only: true,
            auto_remove: false,
            userns: None,
        };
        config.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
        assert!(text.contains("\"storage\": \"vfs\""), "{text}");
        assert_eq!(Config::load(dir.path()).unwrap(), config);
        assert_eq!(config.short_id(), "abababababab");
    }
}
