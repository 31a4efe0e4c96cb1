//! The container record: the single source of truth about one container.
//!
//! Chapter 4's store owns the container: its id, its name, its directory
//! and its root filesystem. The engine adds one file to that directory,
//! `record.json`: the configuration the container was created with (its
//! options, re-read at every start), and its state machine
//!
//! ```text
//!   created --start--> running <--pause/unpause--> paused
//!      ^                  |  (exit)
//!      |                  v
//!      +---- start ---- exited  <-- restarting (policy)
//! ```
//!
//! with the pids and start times of its monitor and of its first process
//! (a pid alone can be reused). It is written atomically (temporary file,
//! fsync, rename) under the container's lock, so a kill at any moment
//! leaves either the old record or the new one. A record that cannot be
//! read is reported and kept, never deleted.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use ch03_cgroups::ownership::lock_file;
use ch04_overlay::atomic::write_atomic;
use ch04_overlay::owner::Owner;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::restart::RestartPolicy;

/// The record's file in the container's directory.
pub const RECORD: &str = "record.json";
/// The container's lock, next to it.
const LOCK: &str = "record.lock";

// ANCHOR: status
/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }
}
// ANCHOR_END: status

/// What runs in the container, as `inspect` shows it under `Config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// The command, resolved: entrypoint then arguments.
    pub argv: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub hostname: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: BTreeMap<String, String>,
}

/// How the engine treats the container (`inspect`'s `HostConfig`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub restart: RestartPolicy,
    /// `--rm`: removed by its monitor when it exits.
    pub auto_remove: bool,
    pub stop_signal: String,
    /// Seconds between the stop signal and SIGKILL.
    pub stop_timeout: u32,
    /// `--log-opt max-size` in bytes (0: unlimited) and `max-file`.
    pub log_max_size: u64,
    pub log_max_files: u32,
    pub network_mode: String,
    /// `-p` as given (`8080:80`, `127.0.0.1:53:53/udp`).
    pub ports: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub memory: u64,
    pub nano_cpus: u64,
    pub pids_limit: i64,
}

// ANCHOR: state
/// The state machine's current values (`inspect`'s `State`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// The container's first process, while it runs.
    pub pid: Option<Owner>,
    /// Its monitor, while one runs.
    pub monitor: Option<Owner>,
    pub exit_code: i32,
    pub oom_killed: bool,
    /// Why the last start failed, or why the container died.
    pub error: String,
    /// Nanoseconds since the epoch; 0: never.
    pub started_at: u128,
    pub finished_at: u128,
    pub restart_count: u32,
    /// Stopped by `stop`/`kill`: the restart policy stays off (Docker's
    /// "manually stopped").
    pub stopped_by_user: bool,
}
// ANCHOR_END: state

impl Default for State {
    fn default() -> State {
        State {
            status: Status::Created,
            pid: None,
            monitor: None,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: 0,
            finished_at: 0,
            restart_count: 0,
            stopped_by_user: false,
        }
    }
}

/// The address a container got on its network, for `inspect` and `port`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub ip: String,
    pub gateway: String,
    pub prefix_len: u8,
}

/// One network the container joins, as `run --network`/`--ip`/
/// `--network-alias` and `network connect` asked: chapter 5's.
pub use ch05_network::run::Connection;

/// One container's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    /// Nanoseconds since the epoch.
    pub created: u128,
    /// The image as the user named it, and its config digest.
    pub image: String,
    pub image_id: String,
    /// The container's options (`run`/`create`'s), parsed again at every
    /// start by the monitor: one parser, one meaning.
    pub args: Vec<String>,
    /// `--env-file` entries, read once at creation.
    pub env_file: Vec<String>,
    pub process: Process,
    pub host: Host,
    pub state: State,
    pub endpoint: Option<Endpoint>,
    /// The networks it joins at every start, in order (none for
    /// `--network none|host`). `None` in records written before networks
    /// were kept here: the stored options say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<Connection>>,
    /// `-v`, `--mount`, `--tmpfs`, resolved once at `create` (an
    /// anonymous volume keeps its name across starts).
    #[serde(default)]
    pub mounts: Vec<crate::mounts::MountPoint>,
}

impl Record {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(RECORD)
    }

    // ANCHOR: read_save
    /// Reads `dir/record.json`. Missing: `Ok(None)` (a container of a
    /// chapter binary, or one being created); unreadable: an error that
    /// says so and where (the file is left as it is).
    pub fn read(dir: &Path) -> Result<Option<Record>, Error> {
        let path = Record::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::engine(format!(
                    "container record {} is unreadable: {e}",
                    path.display()
                )));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::engine(format!(
                "container record {} is unreadable ({e}): it is kept; `berth rm -f` removes it",
                path.display()
            ))
        })
    }

    /// Writes the record atomically.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        write_atomic(&Record::path(dir), &self.encode()?)
    }

    fn encode(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec_pretty(self)
            .map_err(|e| Error::engine(format!("encoding the container record: {e}")))
    }
    // ANCHOR_END: read_save

    pub fn short_id(&self) -> &str {
        ch04_overlay::id::short_id(&self.id)
    }

    /// Whether a monitor looks after the container right now.
    pub fn monitor_alive(&self) -> bool {
        self.state.monitor.is_some_and(|m| m.is_alive())
    }

    /// Running, paused or restarting: the container has a live monitor.
    pub fn is_active(&self) -> bool {
        matches!(
            self.state.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }

    /// The first process's pid, if it still runs.
    pub fn live_pid(&self) -> Option<nix::unistd::Pid> {
        self.state
            .pid
            .filter(|p| p.is_alive())
            .map(|p| nix::unistd::Pid::from_raw(p.pid as i32))
    }
}

// ANCHOR: update
/// The stored options, parsed as `run` parses them.
#[derive(clap::Parser)]
#[command(name = "run", no_binary_name = true)]
struct Stored {
    #[command(flatten)]
    run: crate::cli::RunArgs,
}

impl Record {
    /// The container's options (`args`), parsed again: the monitor starts
    /// from them, `exec` confines alike, `update` rewrites them.
    pub fn options(&self) -> Result<crate::cli::RunArgs, Error> {
        use clap::Parser;
        Stored::try_parse_from(&self.args)
            .map(|s| s.run)
            .map_err(|e| {
                Error::invalid(format!(
                    "the container's stored options no longer parse: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ))
            })
    }
}

/// The container's lock: whoever changes the record holds it.
pub fn lock(dir: &Path) -> Result<Flock<File>, Error> {
    lock_file(&dir.join(LOCK), FlockArg::LockExclusive)
}

/// Reads, changes and writes the record under the container's lock.
pub fn update<T>(dir: &Path, change: impl FnOnce(&mut Record) -> T) -> Result<T, Error> {
    update_with(dir, change, write_atomic)
}

/// [`update`] for the monitor's own status changes (running, exited,
/// restarting): flushed, never torn, but not waited for on disk, since
/// after a power cut no monitor is alive and the next command re-derives
/// the status from that anyway (a rolled-back "created" or "running" is
/// what it would correct). Saves a flush per change on every run.
pub fn update_state<T>(dir: &Path, change: impl FnOnce(&mut Record) -> T) -> Result<T, Error> {
    update_with(dir, change, ch04_overlay::atomic::write_atomic_replace)
}

fn update_with<T>(
    dir: &Path,
    change: impl FnOnce(&mut Record) -> T,
    write: fn(&Path, &[u8]) -> Result<(), Error>,
) -> Result<T, Error> {
    let _lock = lock(dir)?;
    let mut record = Record::read(dir)?
        .ok_or_else(|| Error::not_found(format!("no container record in {}", dir.display())))?;
    let out = change(&mut record);
    write(&Record::path(dir), &record.encode()?)?;
    Ok(out)
}
// ANCHOR_END: update
