//! Chapter 7: least privilege. A container's root is the host's root,
//! held back by what the kernel lets it do: chapter 2's namespaces hide
//! the host, and this chapter takes away the powers that would reach past
//! them.
//!
//! - [`capabilities`]: Docker's 14 of root's ~40 capabilities, in all five sets.
//! - [`seccomp`]: a BPF filter on every syscall (Docker's default profile).
//! - no_new_privs ([`steps`]): set-uid programs gain nothing.
//! - [`masks`]: host-wide files of `/proc` and `/sys` hidden or read-only.
//! - [`devices`] and [`devices_bpf`]: only the default devices can be
//!   created or opened (cgroup v1 files, cgroup v2 BPF).
//! - [`hygiene`]: the engine's binary out of reach (CVE-2019-5736), the
//!   working directory inside the root (CVE-2024-21626).
//! - [`rootless`]: an unprivileged user runs containers in a user
//!   namespace of their own.
//! - [`userns`]: `--userns=private`, container root as a range of host ids
//!   from `/etc/subuid` (chapter 4 shows it the image's files).

pub mod capabilities;
pub mod devices;
pub mod devices_bpf;
pub mod exec;
pub mod hygiene;
pub mod masks;
pub mod options;
pub mod rootless;
pub mod run;
pub mod seccomp;
pub mod steps;
pub mod userns;

pub use ch01_chroot::Error;

/// The result type of this chapter.
pub type Result<T> = std::result::Result<T, Error>;
