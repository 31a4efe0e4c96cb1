//! A handle on a network namespace: by pid, by path (`/run/netns/NAME`) or by fd.
//!
//! berth configures the inside of a container's network from the parent: a
//! netlink socket opened on a thread that joined the container's namespace
//! ([`Netns::run`]) stays there, so the container's own process needs no
//! network step of its own. [`Netns::command`] does the same for a program
//! (`setns(2)` between fork and exec).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sched::{CloneFlags, setns};

use crate::{Error, Result};

/// An open network namespace. Holding the fd keeps the namespace alive.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    /// A path naming it, usable as `ip link set DEV netns PATH`.
    path: PathBuf,
}

impl Netns {
    /// The network namespace of process `pid` (`/proc/PID/ns/net`).
    pub fn from_pid(pid: i32) -> Result<Netns> {
        Netns::from_path(format!("/proc/{pid}/ns/net"))
    }

    /// A namespace file: `/run/netns/NAME` (from `ip netns add`) or `/proc/PID/ns/net`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Netns> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| {
            Error::engine(format!(
                "cannot open network namespace {}: {e}",
                path.display()
            ))
        })?;
        Ok(Netns {
            fd: file.into(),
            path: path.to_path_buf(),
        })
    }

    /// A namespace fd someone else opened (for example from `clone3` or a pidfd).
    pub fn from_fd(fd: OwnedFd) -> Netns {
        let path = PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            fd.as_raw_fd()
        ));
        Netns { fd, path }
    }

    /// The caller's own network namespace (the host, for the engine).
    pub fn current() -> Result<Netns> {
        Netns::from_path("/proc/thread-self/ns/net")
    }

    /// The open namespace file, for netlink's `IFLA_NET_NS_FD`.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// A path that opens this namespace while the handle lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace's inode: equal inodes, same namespace.
    pub fn inode(&self) -> Result<u64> {
        let st = nix::sys::stat::fstat(self.fd.as_fd())
            .map_err(|e| Error::engine(format!("fstat on a netns fd: {e}")))?;
        Ok(st.st_ino)
    }

    // ANCHOR: command
    /// A command that runs inside this namespace: `setns(2)` after fork, before exec.
    /// `netns.command("ip").args(["addr"])` is `nsenter --net=PATH ip addr`.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let fd = self.fd.as_raw_fd();
        // SAFETY: setns is a plain system call, safe between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
        cmd
    }
    // ANCHOR_END: command

    /// Runs `f` on a new thread that joined this namespace: sockets it opens,
    /// commands it spawns and `/proc/sys/net` files it writes belong here.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let fd = self.fd.as_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    Error::engine(format!("setns into {}: {e}", self.path.display()))
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}
