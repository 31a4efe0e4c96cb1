//! The volume store: `<root>/volumes/<name>/_data` (what containers
//! mount) and `volume.json` next to it (driver, labels, creation time),
//! written atomically under the store's lock; and who uses a volume.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use ch03_cgroups::ownership::lock_file;
use ch04_overlay::atomic::write_atomic;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::context::Engine;
use crate::lookup::Found;
use crate::time::{now_nanos, rfc3339};
use crate::{Error, Result};

const RECORD: &str = "volume.json";
const DATA: &str = "_data";

// ANCHOR: volume
/// One volume, as `volume inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub created_at: String,
    pub scope: String,
    /// Derived from the store's path, never stored.
    #[serde(skip_deserializing)]
    pub mountpoint: PathBuf,
}
// ANCHOR_END: volume

impl Volume {
    /// What containers mount: the volume's `_data`, or the host directory
    /// of the local driver's `-o type=none,o=bind,device=/path`.
    pub fn data(&self) -> PathBuf {
        match self.options.get("device") {
            Some(device) if self.options.get("type").map(String::as_str) == Some("none") => {
                PathBuf::from(device)
            }
            _ => self.mountpoint.clone(),
        }
    }

    /// The tmpfs options of the local driver's `-o type=tmpfs`: such a
    /// volume is a new tmpfs at each mount, its data gone with it.
    pub fn tmpfs(&self) -> Option<String> {
        (self.options.get("type").map(String::as_str) == Some("tmpfs"))
            .then(|| self.options.get("o").cloned().unwrap_or_default())
    }
}

/// The store of one engine root.
pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn open(engine: &Engine) -> Result<Volumes> {
        let dir = engine.root.join("volumes");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::engine(format!("creating {}: {e}", dir.display())))?;
        Ok(Volumes { dir })
    }

    /// The store's lock: whoever creates or removes a volume holds it.
    pub fn lock(&self) -> Result<Flock<File>> {
        lock_file(&self.dir.join(".lock"), FlockArg::LockExclusive)
    }

    /// The volume `name`, or Docker's words for a missing one.
    pub fn get(&self, name: &str) -> Result<Volume> {
        let path = self.dir.join(name).join(RECORD);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| Error::not_found(format!("no such volume: {name}")))?;
        let mut volume: Volume = serde_json::from_str(&text).map_err(|e| {
            Error::engine(format!(
                "volume record {} is unreadable: {e}",
                path.display()
            ))
        })?;
        volume.mountpoint = self.dir.join(name).join(DATA);
        Ok(volume)
    }

    /// The volume `name`, made if missing; the caller holds the lock.
    pub fn get_or_create_locked(&self, name: &str) -> Result<Volume> {
        self.create_locked(Some(name), BTreeMap::new(), BTreeMap::new())
    }

    // ANCHOR: create
    /// Creates a volume (a random 64-hex name without `name`); an existing
    /// one of that name is returned as it is, as Docker does.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        let _lock = self.lock()?;
        self.create_locked(name, labels, options)
    }

    /// [`Volumes::create`] under a lock the caller holds.
    pub fn create_locked(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        let name = match name {
            Some(n) => n.to_string(),
            None => ch04_overlay::id::new_id()?,
        };
        if let Ok(existing) = self.get(&name) {
            return Ok(existing);
        }
        let dir = self.dir.join(&name);
        let volume = Volume {
            name: name.clone(),
            driver: "local".into(),
            labels,
            options,
            created_at: rfc3339(now_nanos()),
            scope: "local".into(),
            mountpoint: dir.join(DATA),
        };
        let made = std::fs::create_dir_all(&volume.mountpoint)
            .map_err(|e| Error::engine(format!("creating {}: {e}", dir.display())))
            .and_then(|()| {
                let json = serde_json::to_vec_pretty(&volume)
                    .map_err(|e| Error::engine(format!("encoding the volume: {e}")))?;
                write_atomic(&dir.join(RECORD), &json)
            });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(volume)
    }
    // ANCHOR_END: create

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| Error::engine(format!("{}: {e}", self.dir.display())))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names.iter().filter_map(|n| self.get(n).ok()).collect())
    }

    /// Removes a volume and its data (the caller checked nobody uses it,
    /// under [`Volumes::lock`]).
    pub fn remove_unlocked(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let dir = self.dir.join(name);
        // The record first: a half-removed volume is no volume.
        std::fs::remove_file(dir.join(RECORD))
            .and_then(|()| std::fs::remove_dir_all(&dir))
            .map_err(|e| Error::engine(format!("removing {}: {e}", dir.display())))
    }
}

// ANCHOR: users
/// The containers (running or not) whose mounts name the volume.
pub fn users(containers: &[Found], name: &str) -> Vec<String> {
    containers
        .iter()
        .filter(|f| {
            f.record
                .mounts
                .iter()
                .any(|m| m.kind == "volume" && m.name == name)
        })
        .map(|f| f.record.name.clone())
        .collect()
}
// ANCHOR_END: users
