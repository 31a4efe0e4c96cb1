//! Starting a network's resolver: one process per user-defined network.
//!
//! berth has no daemon, so no resident process can answer DNS for every
//! container. Instead each user-defined network gets a small resolver
//! process of its own (as podman's aardvark-dns), started by the attach of
//! the network's first container and gone with its last ([`crate::serve`]
//! exits by itself). Which program is the resolver is the caller's
//! choice, a [`Launcher`]: `ch05-network --root ROOT __resolver` for the
//! chapter's binary, `berth ... __resolver` for the engine; the network's
//! name is appended.
//!
//! Whether a resolver runs is decided under the state root's lock from its
//! pid file (`<root>/network/dns/NAME.pid`, pid and start time, as chapter
//! 4's containers): a resolver killed with SIGKILL leaves a file whose
//! process is gone, and the next attach starts a new one.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ch04_overlay::owner::Owner;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::lock::{Locked, StateRoot};
use crate::names::dns_dir;
use crate::network::Network;
use crate::{Error, Result};

/// What the resolver prints on its stdout once it answers: the attach
/// waits for it, so a container's first query finds the resolver up.
pub const READY: &str = "ready";

/// How long an attach waits for a new resolver to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The program (and its first arguments) that runs a network's resolver;
/// the network's name is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Launcher {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Launcher {
        Launcher {
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
        }
    }
}

/// Where the resolver of `network` records itself.
pub fn pid_path(state: &StateRoot, network: &str) -> PathBuf {
    dns_dir(state).join(format!("{network}.pid"))
}

/// Where the resolver of `network` writes its messages.
pub fn log_path(state: &StateRoot, network: &str) -> PathBuf {
    dns_dir(state).join(format!("{network}.log"))
}

/// The running resolver of `network`, if any.
pub fn running(state: &StateRoot, network: &str) -> Option<Owner> {
    Owner::read(&pid_path(state, network)).filter(Owner::is_alive)
}

// ANCHOR: ensure_running
/// Starts the resolver of `network` unless one is running; returns its
/// pid and start time. Under the lock: a resolver deciding to exit takes
/// the lock too, and reads the table again first, so it either sees the
/// entry just added and stays, or has exited (and removed its pid file)
/// before we look.
pub fn ensure_running(
    _lock: &Locked,
    state: &StateRoot,
    network: &Network,
    launcher: &Launcher,
) -> Result<Owner> {
    if let Some(owner) = running(state, &network.name) {
        return Ok(owner);
    }
    let dir = dns_dir(state);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::engine(format!("cannot create {}: {e}", dir.display())))?;
    let log_path = log_path(state, &network.name);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::engine(format!("cannot open {}: {e}", log_path.display())))?;
    let mut command = Command::new(&launcher.program);
    command
        .args(&launcher.args)
        .arg(&network.name)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe { command.pre_exec(detach) };
    let mut child = command.spawn().map_err(|e| {
        Error::engine(format!(
            "cannot start the resolver of network {} ({}): {e}",
            network.name,
            launcher.program.display()
        ))
    })?;
    // The intermediate process exits at once (see `detach`); the resolver
    // is its child, adopted by init: nobody waits for it, nothing is a zombie.
    let _ = child.wait();
    let stdout = child.stdout.take().expect("piped");
    let said = read_line(stdout, START_TIMEOUT);
    match running(state, &network.name) {
        Some(owner) if said.trim() == READY => Ok(owner),
        _ => Err(Error::engine(format!(
            "the resolver of network {} did not start{}: see {}",
            network.name,
            if said.is_empty() {
                String::new()
            } else {
                format!(" ({})", said.trim())
            },
            log_path.display()
        ))),
    }
}
// ANCHOR_END: ensure_running

/// In the child, before exec: no descriptor of the caller's but stdio (an
/// engine's monitor holds a container's pipes and terminal, which must
/// close when the container ends, not when the resolver does), a session
/// of its own (no terminal, no signal from the caller's process group),
/// all signals unblocked, and a second fork so that the resolver is no
/// child of the attaching process, which may exit long before it.
fn detach() -> std::io::Result<()> {
    // SAFETY: plain system calls on this (forked, single-threaded) process.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) < 0 {
            // Kernels before 5.9: one by one.
            for fd in 3..1024 {
                libc::close(fd);
            }
        }
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        match libc::fork() {
            -1 => Err(std::io::Error::last_os_error()),
            0 => Ok(()),
            _ => libc::_exit(0),
        }
    }
}

/// The first line `stdout` says within `timeout` (empty if it closes or
/// says nothing in time).
fn read_line(mut stdout: std::process::ChildStdout, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    while !said.contains(&b'\n') {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if ms == 0 {
            break;
        }
        let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => said.extend_from_slice(&buf[..n]),
            },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&said).into_owned()
}

/// Removes the resolver files of `network` that no running resolver holds
/// (its pid file and log), when the network itself goes.
pub fn forget(_lock: &Locked, state: &StateRoot, network: &str) {
    if running(state, network).is_none() {
        for path in [pid_path(state, network), log_path(state, network)] {
            let _ = std::fs::remove_file(path);
        }
    }
}
