//! berth, the engine: the chapters' mechanisms behind Docker's commands.
//!
//! Daemonless: every command is a short-lived process over one store
//! (chapter 4's containers, chapter 6's images, under `--root`), and each
//! running container has one small monitor ([`monitor`]) that outlives the
//! command that started it. The record ([`record`]) is the source of truth.

pub mod attach;
pub mod cli;
pub mod context;
pub mod create;
pub mod endpoint;
pub mod exec;
pub mod format;
pub mod frames;
pub mod images;
pub mod inspect;
pub mod logfile;
pub mod logs;
pub mod lookup;
pub mod monitor;
pub mod pause;
pub mod ps;
pub mod record;
pub mod remove;
pub mod restart;
pub mod run;
pub mod signal;
pub mod start;
pub mod stop;
pub mod time;
// Issue 14's remaining container and system commands.
pub mod archive;
pub mod commit;
pub mod cp;
pub mod diff;
pub mod export;
pub mod info;
pub mod rootfs;
pub mod runtime;
pub mod stats;
pub mod system;
pub mod top;
pub mod update;
pub mod version;
// Issue 15: volumes, bind mounts, tmpfs.
pub mod mounts;
pub mod volume_views;
pub mod volumes;
// Issue 15: user-defined networks.
pub mod networks;

pub use ch01_chroot::Error;
pub type Result<T> = std::result::Result<T, Error>;
