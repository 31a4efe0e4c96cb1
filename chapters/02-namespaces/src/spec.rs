//! What to run and how isolated: the configuration the start sequence reads.
//!
//! Later chapters fill the same struct from more places (an overlay's
//! merged directory as `rootfs`, an image's `Cmd`, `Env` and `WorkingDir`).

use std::io::Read;
use std::path::PathBuf;

use ch01_chroot::exec::DEFAULT_PATH;

use crate::Error;
use crate::hostname::check_hostname;
use crate::idmap::{DEFAULT_MAP, IdMap};
use crate::namespaces::{Namespace, Namespaces};
use crate::timens::TimeOffsets;

// ANCHOR: spec
/// One container to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The root filesystem (a directory; it need not be a mount point).
    pub rootfs: PathBuf,
    /// The command; empty means `/bin/sh`.
    pub argv: Vec<String>,
    /// The container's hostname (its uts namespace's).
    pub hostname: String,
    /// The namespaces the container gets of its own.
    pub namespaces: Namespaces,
    /// User namespace maps (used when `namespaces` has `user`).
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// Run berth's init as pid 1, with the command as its child.
    pub init: bool,
    /// Clock offsets of the time namespace.
    pub time_offsets: TimeOffsets,
    /// The command's whole environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// The working directory inside the container.
    pub cwd: PathBuf,
    /// Descriptors 3 to 3+N-1 of the caller, passed on purpose (runc's
    /// `--preserve-fds`); every other one beyond stdio is closed at exec.
    pub preserve_fds: u32,
    /// Create only: after every step, wait before exec until the container
    /// is started through this named pipe (see [`crate::gate`]).
    pub exec_fifo: Option<PathBuf>,
    /// `-t`: a pseudo-terminal of the container's own, relayed to the
    /// caller's terminal.
    pub tty: bool,
    /// The container's stdin, stdout and stderr, given by the caller (an
    /// engine's monitor holds pipes, or a pty's slave with `tty`); they stay
    /// open in the caller until `start` returns. None: the caller's own
    /// stdio, relayed where it is a terminal (see [`crate::stdio`]).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// The child gets `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`),
    /// the default. An OCI runtime's `create` turns it off: it exits and
    /// leaves the container to the process above it (containerd's shim).
    pub die_with_parent: bool,
}
// ANCHOR_END: spec

impl Spec {
    /// A container running `argv` in `rootfs` with Docker's defaults: every
    /// namespace but user, a generated hostname, a small clean environment.
    pub fn new(rootfs: impl Into<PathBuf>, argv: Vec<String>) -> Spec {
        let hostname = generate_id();
        Spec {
            rootfs: rootfs.into(),
            argv,
            env: default_env(&hostname),
            hostname,
            namespaces: Namespaces::default(),
            uid_map: vec![DEFAULT_MAP],
            gid_map: vec![DEFAULT_MAP],
            init: false,
            time_offsets: TimeOffsets::default(),
            cwd: PathBuf::from("/"),
            preserve_fds: 0,
            exec_fifo: None,
            tty: false,
            stdio: None,
            die_with_parent: true,
        }
    }

    /// In the child, after a change of credentials (which clears it): the
    /// parent-death signal again, if the container is to die with its parent.
    pub fn renew_death_signal(&self) -> Result<(), Error> {
        if !self.die_with_parent {
            return Ok(());
        }
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .map_err(|e| Error::engine(format!("prctl: {}", e.desc())))
    }

    /// True when the container gets its own `ns`.
    pub fn has(&self, ns: Namespace) -> bool {
        self.namespaces.contains(ns)
    }

    /// Sets the hostname, and `HOSTNAME` in the environment with it.
    pub fn set_hostname(&mut self, hostname: &str) {
        self.hostname = hostname.to_string();
        self.set_env(&format!("HOSTNAME={hostname}"));
    }

    /// Adds or replaces one `KEY=VALUE` of the environment.
    pub fn set_env(&mut self, entry: &str) {
        let key = entry.split('=').next().unwrap_or(entry);
        self.env.retain(|e| e.split('=').next().unwrap_or(e) != key);
        self.env.push(entry.to_string());
    }

    /// Refuses combinations that cannot work, before anything is created.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.has(Namespace::Mount) {
            return Err(Error::invalid(
                "cannot share the mount namespace: pivot_root would change the host's root",
            ));
        }
        check_hostname(&self.hostname)?;
        if self.has(Namespace::User) && (self.uid_map.is_empty() || self.gid_map.is_empty()) {
            return Err(Error::invalid(
                "a user namespace needs a uid map and a gid map",
            ));
        }
        if !self.has(Namespace::Time) && !self.time_offsets.is_zero() {
            return Err(Error::invalid(
                "time offsets need a time namespace (remove --share time)",
            ));
        }
        if !self.cwd.is_absolute() {
            return Err(Error::invalid(format!(
                "working directory {} is not absolute",
                self.cwd.display()
            )));
        }
        Ok(())
    }
}

/// The environment a container starts with, as `docker run` sets it
/// (`TERM` comes with `-t`, see [`crate::cli::spec_from_options`]).
pub fn default_env(hostname: &str) -> Vec<String> {
    vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
        "HOME=/root".to_string(),
    ]
}

/// A short random id (12 hex digits), like Docker's short container ids.
pub fn generate_id() -> String {
    let mut bytes = [0u8; 6];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // Unique enough for a hostname: time and pid.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
        bytes[4..].copy_from_slice(&(std::process::id() as u16).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers() {
        let spec = Spec::new("/r", vec![]);
        assert_eq!(spec.hostname.len(), 12);
        assert!(spec.hostname.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(spec.env.contains(&format!("HOSTNAME={}", spec.hostname)));
        assert!(!spec.has(Namespace::User));
        spec.validate().unwrap();
    }

    #[test]
    fn env_and_hostname() {
        let mut spec = Spec::new("/r", vec![]);
        spec.set_hostname("box");
        spec.set_env("HOME=/home/me");
        assert!(spec.env.contains(&"HOSTNAME=box".to_string()));
        assert_eq!(
            spec.env.iter().filter(|e| e.starts_with("HOME=")).count(),
            1
        );
    }

    #[test]
    fn impossible_specs_are_refused() {
        let mut spec = Spec::new("/r", vec![]);
        spec.namespaces.remove(Namespace::Mount);
        assert!(spec.validate().unwrap_err().message.contains("pivot_root"));
        let mut spec = Spec::new("/r", vec![]);
        spec.namespaces.remove(Namespace::Time);
        spec.time_offsets.boottime = 5;
        assert_eq!(spec.validate().unwrap_err().code, 125);
    }
}
