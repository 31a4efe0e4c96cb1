//! Chapter 2: namespaces, `pivot_root`, pid 1, and the start sequence.
//!
//! Chapter 1 changed where `/` points. This chapter gives the process its
//! own view of everything namespaces can virtualise: process ids, hostname,
//! IPC, mounts, network, users, cgroups and clocks; replaces `chroot` with
//! `pivot_root` in a private mount namespace; and puts an init in front of
//! the command when asked to.
//!
//! It also introduces the **start sequence** ([`sequence`]) that every later
//! chapter extends: the parent clones the child into new namespaces
//! ([`start`]), the child blocks on a sync channel ([`sync`]), the parent runs
//! its steps (uid/gid maps here; cgroups and the host end of the network
//! later) and releases the child, the child runs its steps (hostname,
//! mounts, `pivot_root`...) and execs. A later chapter adds a step with
//! [`sequence::StartSequence::parent_step`] or
//! [`sequence::StartSequence::child_step_after`]; it never edits this crate.
//!
//! And it enters a running container ([`join`]): `setns` into the
//! namespaces of its first process, then exec, as `docker exec` does.

pub mod binds;
pub mod cli;
pub mod dev;
pub mod fds;
pub mod forward;
pub mod gate;
pub mod hostname;
pub mod idmap;
pub mod init;
pub mod inroot;
pub mod join;
pub mod loopback;
pub mod mounts;
pub mod namespaces;
pub mod pivot;
pub mod sequence;
pub mod spec;
pub mod start;
pub mod stdio;
pub mod steps;
pub mod sync;
pub mod terminal;
pub mod timens;

pub use ch01_chroot::Error;
pub use join::{ExecSpec, ExecSteps, Process, exec};
pub use sequence::{ChildContext, ChildStep, ParentContext, ParentStep, StartSequence};
pub use spec::Spec;
pub use start::{Container, run, start};

/// An I/O error's reason as the kernel words it (`File exists`), without
/// Rust's ` (os error 17)` suffix: errors here are read by people.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}
