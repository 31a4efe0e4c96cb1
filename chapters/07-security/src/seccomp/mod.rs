//! seccomp: a BPF program the kernel runs on every syscall of the
//! container, answering allow, fail with an errno, or kill.
//!
//! [`profile`] reads Docker's JSON format and resolves it for one
//! container; [`default_profile`] is Docker's default as this chapter's
//! tables; [`filter`] compiles and installs it; [`syscalls`] maps names to
//! this architecture's numbers.

pub mod default_profile;
pub mod filter;
pub mod profile;
pub mod syscalls;

use std::path::Path;

use crate::{Error, Result};
pub use profile::Profile;

/// `--security-opt seccomp=...`: which profile, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter at all (`seccomp=unconfined`, and `--privileged`).
    Unconfined,
    /// A profile read from a file.
    Profile(Profile),
}

/// Reads a profile file in Docker's JSON format.
pub fn load_profile(path: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::engine(format!(
            "seccomp profile {}: {}",
            path.display(),
            ch02_namespaces::io_reason(&e)
        ))
    })?;
    profile::parse_profile(&text).map_err(|e| {
        Error::engine(format!(
            "seccomp profile {}: {} (see Docker's seccomp profile format)",
            path.display(),
            e.message
        ))
    })
}
