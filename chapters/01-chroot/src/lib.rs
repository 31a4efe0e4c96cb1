//! Chapter 1: run a command inside another root directory.
//!
//! The whole mechanism is one system call, `chroot(2)`, plus the plumbing
//! every later chapter keeps: validate the root, fork, enter the root in the
//! child, exec the command, report a failure back through a pipe, and turn
//! the child's wait status into a shell-style exit code.

pub mod chroot;
pub mod cli;
pub mod error;
pub mod escape;
pub mod events;
pub mod exec;
pub mod exit;
pub mod report;
pub mod rootfs;
pub mod run;

pub use error::{Error, ErrorKind};
