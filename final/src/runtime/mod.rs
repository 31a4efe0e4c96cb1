//! berth-runtime: an OCI runtime with runc's command line, so that
//! containerd's shim (or anyone speaking runc) can drive the chapters'
//! start sequence. One module per verb; `bundle` reads config.json.

pub mod bundle;
pub mod console;
pub mod create;
pub mod delete;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod kill;
pub mod list;
pub mod log;
pub mod mounts;
pub mod pause;
pub mod ps;
pub mod resources;
pub mod run;
pub mod security;
pub mod spec;
pub mod start;
pub mod state;
pub mod user;

use std::path::PathBuf;

/// Where containers' state lives unless `--root` says otherwise.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// The runtime spec version berth-runtime writes and reports.
pub const OCI_VERSION: &str = "1.2.0";

/// The global options every verb sees (given before the verb, as
/// containerd's shim passes them).
#[derive(Debug, Clone)]
pub struct Globals {
    /// The directory holding one directory per container.
    pub root: PathBuf,
    /// Where errors also go, for the shim to read (`--log`).
    pub log: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: log::Format,
}

impl Globals {
    /// The state directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }
}
