//! Chapter 4's `run` options, flattened by later chapters' binaries.

use std::path::{Path, PathBuf};

use ch01_chroot::cli::{program, report_each};
use ch03_cgroups::options::LimitArgs;
use clap::Args;

use crate::Error;
use crate::run::RunOptions;
use crate::state::now;
use crate::storage::Storage;
use crate::store::{Spec, Store, listing_table};
use crate::sweep::sweep;

// ANCHOR: storage_args
/// Where a container's root comes from and what happens to it afterwards.
#[derive(Args, Debug, Clone, Default)]
pub struct StorageArgs {
    /// A read-only layer stacked above ROOTFS (repeatable, lowest first).
    #[arg(long = "lower", value_name = "DIR")]
    pub lowers: Vec<PathBuf>,
    /// Name the container (default: a generated adjective_noun).
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the container (its upper directory) when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Storage driver: overlay (copy-on-write) or vfs (a full copy).
    #[arg(long, value_name = "DRIVER", default_value = "overlay", value_parser = parse_storage)]
    pub storage: Storage,
}
// ANCHOR_END: storage_args

impl StorageArgs {
    /// The container to create on `base` (ROOTFS, or an image's layers),
    /// with the `--lower` layers on top.
    pub fn spec(&self, base: Vec<PathBuf>) -> Spec {
        let mut lowers = base;
        lowers.extend(self.lowers.iter().cloned());
        Spec {
            lowers,
            name: self.name.clone(),
            storage: self.storage,
            read_only: self.read_only,
            auto_remove: self.rm,
            userns: None,
        }
    }

    /// Chapter 4's run options: this container on `base` under state root
    /// `root`, with chapter 3's `limits`.
    pub fn run_options(&self, root: PathBuf, base: Vec<PathBuf>, limits: &LimitArgs) -> RunOptions {
        RunOptions {
            root,
            container: self.spec(base),
            cgroups: ch03_cgroups::run::RunOptions {
                limits: limits.limits(),
                ..Default::default()
            },
            existing: None,
        }
    }
}

/// Opens state root `root`, swept of what dead runs left.
pub fn open_swept(root: &Path) -> Result<Store, Error> {
    let store = Store::open(root)?;
    let _ = sweep(&store);
    Ok(store)
}

/// `ls`: the containers under `root`, after sweeping what dead runs left;
/// a container whose record is unreadable is listed, and warned about.
pub fn list_containers(root: &Path) -> Result<i32, Error> {
    let store = open_swept(root)?;
    let listing = store.scan()?;
    print!("{}", listing_table(&listing, now()));
    for warning in listing.warnings() {
        eprintln!("{}: warning: {warning}", program());
    }
    Ok(0)
}

/// `rm`: removes each container named (an unreadable one too: the user
/// named it); reports each, fails if any failed.
pub fn remove_containers(root: &Path, keys: Vec<String>) -> Result<i32, Error> {
    let store = open_swept(root)?;
    Ok(report_each(
        keys.into_iter()
            .map(|key| store.remove_key(&key).map(|()| key)),
    ))
}

fn parse_storage(text: &str) -> Result<Storage, String> {
    text.parse().map_err(|e: Error| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageArgs,
    }

    #[test]
    fn lowers_stack_above_the_base() {
        let cli = Cli::try_parse_from(["x", "--lower", "/a", "--lower", "/b", "--rm"]).unwrap();
        let spec = cli.storage.spec(vec!["/root".into()]);
        assert_eq!(
            spec.lowers,
            [PathBuf::from("/root"), "/a".into(), "/b".into()]
        );
        assert!(spec.auto_remove);
        assert_eq!(spec.storage, Storage::Overlay);
    }

    #[test]
    fn an_unknown_driver_is_a_usage_error() {
        let err = Cli::try_parse_from(["x", "--storage", "zfs"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("use overlay or vfs"), "{err}");
    }
}
