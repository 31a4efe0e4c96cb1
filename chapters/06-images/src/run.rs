//! `run`: an image's layers as chapter 4's lower layers, its config as the
//! container's process.
//!
//! Find the image (pulling it as `--pull` says), apply Docker's rules to
//! its config and the user's overrides, and hand over to the previous
//! chapter (chapter 5: the network, and through it chapters 4, 3 and 2)
//! with the layers below any `--lower`. Once the container's root
//! is mounted, the image's user is looked up in the image's own
//! `/etc/passwd`, and two child steps finish the start: create the working
//! directory, then become that user.

use ch01_chroot::events;
use std::path::{Path, PathBuf};

use ch02_namespaces::{Spec as ContainerSpec, StartSequence};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::pull::{PullOptions, pull};
use crate::reference::Reference;
use crate::runconfig::{self, Overrides};
use crate::store::Store;
use crate::user::{MakeWorkdir, SwitchUser, lookup};

/// Docker's `--pull`: when to ask the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull only when the reference is not in the store.
    #[default]
    Missing,
    /// Pull every time (unchanged layers are not downloaded again).
    Always,
    /// Never pull: a missing image is an error.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = Error;
    fn from_str(text: &str) -> Result<PullPolicy> {
        match text {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            _ => Err(Error::invalid(format!(
                "invalid pull policy {text:?}: use missing, always or never"
            ))),
        }
    }
}

/// What chapter 6 adds to a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub image: Reference,
    pub pull: PullPolicy,
    pub pull_options: PullOptions,
    /// Suppress the pull's progress.
    pub quiet: bool,
    /// `--entrypoint`, the trailing command, `-e`, `-w`, `-u`.
    pub overrides: Overrides,
    /// The previous chapter's options (network, storage, limits). Its
    /// state root holds the image store too; the image's layers go below
    /// its `--lower` layers.
    pub container: ch05_network::run::RunOptions,
}

/// The image store under a state root (the containers share the root).
pub fn image_store(root: &Path) -> Result<Store> {
    Store::open(root)
}

// ANCHOR: run
/// Runs the image `options.image` with `spec`'s namespaces, hostname and
/// maps; returns the container's exit code.
pub fn run(spec: ContainerSpec, options: &RunOptions) -> Result<i32> {
    run_with(spec, options, StartSequence::standard(), |_, _| Ok(()))
}

/// [`run`] for later chapters: `extend` sees the container's spec and
/// sequence once this chapter has added its steps (the image's working
/// directory and user, last before exec), and may add more.
pub fn run_with<F>(
    mut spec: ContainerSpec,
    options: &RunOptions,
    sequence: StartSequence,
    extend: F,
) -> Result<i32>
where
    F: FnOnce(&mut ContainerSpec, &mut StartSequence) -> Result<()>,
{
    let store = image_store(&options.container.storage.root)?;
    let name = ensure_image(&store, options)?;
    // Held until the container exists, so `rmi` cannot remove the layers
    // between our lookup and the container naming them as its lowers.
    let lock = store.lock()?;
    let (_, config, layers) = store.image(&name)?;
    let image = config.config.unwrap_or_default();
    let process = runconfig::resolve(&image, &options.overrides, |k| std::env::var(k).ok())?;
    spec.argv = process.argv;
    for entry in &process.env {
        spec.set_env(entry);
    }
    spec.cwd = PathBuf::from(&process.workdir);

    let mut container = options.container.clone();
    // `-P`: the image's exposed ports, each to a free host port.
    if container.network.publish_all {
        let network = &mut container.network;
        let more = ch05_network::reserve::publish_all(&image.exposed(), &network.ports)?;
        network.ports.extend(more);
    }
    let storage = &mut container.storage;
    storage.container.lowers = layers
        .into_iter()
        .chain(options.container.storage.container.lowers.iter().cloned())
        .collect();
    ch05_network::run::run_with(spec, &container, sequence, |created, spec, sequence| {
        drop(lock);
        let user = lookup(&created.rootfs(), &process.user)?;
        if !process.env.iter().any(|e| e.starts_with("HOME=")) {
            spec.set_env(&format!("HOME={}", user.home));
        }
        sequence.child_step(Box::new(MakeWorkdir));
        sequence.child_step(Box::new(SwitchUser(user)));
        extend(spec, sequence)
    })
}
// ANCHOR_END: run

// ANCHOR: ensure_image
/// The store name of the image to run, pulled first if `--pull` says so.
pub fn ensure_image(store: &Store, options: &RunOptions) -> Result<String> {
    let name = options.image.to_string();
    let present = store.lookup(&name).is_ok();
    match options.pull {
        PullPolicy::Never if !present => {
            return Err(Error::not_found(format!(
                "No such image: {name} (--pull never: pull it first)"
            )));
        }
        PullPolicy::Never => return Ok(name),
        PullPolicy::Missing if present => return Ok(name),
        PullPolicy::Missing if !options.quiet => {
            events::notice(format!("Unable to find image '{name}' locally"))
        }
        PullPolicy::Missing => {}
        PullPolicy::Always => {}
    }
    if !options.quiet {
        events::notice(format!(
            "{}: Pulling from {}",
            options.image.tag.as_deref().unwrap_or("latest"),
            options.image.repository
        ));
    }
    let progress = if options.quiet {
        Progress::Hidden
    } else {
        Progress::auto()
    };
    let pulled = pull(store, &options.image, &options.pull_options, &progress)?;
    if !options.quiet {
        events::notice(format!("Digest: {}", pulled.digest));
        events::notice(format!("Status: Downloaded image for {}", pulled.name));
    }
    Ok(pulled.name)
}
// ANCHOR_END: ensure_image

/// The containers (under the same state root) whose lower layers include
/// `layer`: `rmi` refuses to delete a layer a container stands on. A
/// container whose record is unreadable may stand on any layer: it counts
/// (by its short id), so its layers stay until it is removed.
pub fn containers_using(root: &Path, layer: &Path) -> Result<Vec<String>> {
    let listing = ch04_overlay::Store::open(root)?.scan()?;
    let layer = std::fs::canonicalize(layer).unwrap_or_else(|_| layer.to_path_buf());
    Ok(listing
        .containers
        .into_iter()
        .filter(|c| c.config.lowers.contains(&layer))
        .map(|c| c.config.name)
        .chain(listing.unreadable.iter().map(|u| u.short_id().to_string()))
        .collect())
}
