//! Chapter 4: copy-on-write root filesystems.
//!
//! A container should not write into its image. Overlayfs stacks read-only
//! *lower* directories under one writable *upper* directory and shows the
//! union at a *merged* mount point; the first write to a lower file copies
//! it up, a deletion leaves a *whiteout*. This crate mounts such stacks,
//! keeps per-container state under a root directory, lists what a container
//! changed (`diff`), freezes those changes into a new layer (`commit`), and
//! offers `vfs`, the storage driver that copies instead, for comparison.

pub mod atomic;
pub mod cli;
pub mod commit;
pub mod copy;
pub mod diff;
pub mod fscheck;
pub mod id;
pub mod idmapped;
pub mod lowers;
pub mod mount;
pub mod options;
pub mod overlay;
pub mod owner;
pub mod private;
pub mod run;
pub mod state;
pub mod storage;
pub mod store;
pub mod sweep;
pub mod vfs;
pub mod whiteout;
pub mod xattr;

pub use ch03_cgroups::Error;
pub use diff::{Change, Kind};
pub use overlay::Overlay;
pub use storage::Storage;
pub use store::{Container, Spec, Store};
