//! Chapter 3: limit, pause and account what a container consumes, with cgroups.
//!
//! A cgroup is a directory in a cgroup filesystem: processes written into
//! it, limits and counters as files inside. This library detects which
//! cgroup filesystems a host mounts (v2, v1 or both), creates a container's
//! cgroup in each, writes Docker's limits into the right files for that
//! layout, freezes and thaws it, reads its accounting, and removes it.
//!
//! Wired into chapter 2's start sequence ([`run`]): a parent-side step puts
//! the waiting child into its cgroup before it is released, and a child-side
//! step mounts the container's own cgroup read-only at `/sys/fs/cgroup`.
//! Chapter 2's `exec` gets a parent-side hook too ([`join`]): a process
//! entering a running container joins its cgroup before it execs.

pub mod cgroup;
pub mod device;
pub mod freezer;
pub mod join;
pub mod layout;
pub mod limits;
pub mod options;
pub mod ownership;
pub mod pause;
pub mod run;
pub mod stats;
pub mod steps;
pub mod sweep;
pub mod units;

pub use cgroup::Cgroup;
pub use ch01_chroot::Error;
pub use layout::{Layout, Version};
pub use limits::{Limits, Swap};
pub use stats::Stats;
