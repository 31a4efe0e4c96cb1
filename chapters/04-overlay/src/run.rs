//! `run`: chapter 3's container, on a copy-on-write root of its own.
//!
//! Create the container (upper, work and merged directories), mount its
//! root, point chapter 2's spec at the merged view, and hand over to
//! chapter 3. On the way out, on every path: unmount, and with `--rm`
//! (or when the container could not be prepared) remove the container.

use std::path::PathBuf;

use ch01_chroot::cli::program;
use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::{Spec as ContainerSpec, StartSequence};

use crate::Error;
use crate::idmapped::IdMapping;
use crate::store::{Container, Spec, Store};
use crate::sweep::sweep;

/// What chapter 4 adds to a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The state root (`--root`).
    pub root: PathBuf,
    /// The container to create: layers, name, driver, `--read-only`, `--rm`.
    pub container: Spec,
    /// Chapter 3's limits.
    pub cgroups: ch03_cgroups::run::RunOptions,
    /// Run this container, created before (an engine's `create`, then
    /// `start`), instead of creating one; it is kept whatever happens.
    pub existing: Option<Container>,
}

/// Runs `spec` on a new container's root; returns the exit code.
pub fn run(spec: ContainerSpec, options: &RunOptions) -> Result<i32, Error> {
    run_with(spec, options, StartSequence::standard(), |_, _, _| Ok(()))
}

// ANCHOR: run
/// [`run`] for later chapters: `extend` sees the new container before it
/// starts, and may change the spec and add steps to the sequence.
pub fn run_with<F>(
    spec: ContainerSpec,
    options: &RunOptions,
    sequence: StartSequence,
    extend: F,
) -> Result<i32, Error>
where
    F: FnOnce(&Container, &mut ContainerSpec, &mut StartSequence) -> Result<(), Error>,
{
    let store = Store::open(&options.root)?;
    // A container in a user namespace starts as its own root, a host id
    // that must traverse the private state root to reach its rootfs.
    if spec.has(Namespace::User)
        && let Some(gid) = spec.gid_map.iter().find_map(|m| m.to_host(0))
    {
        crate::private::share_root_with_group(store.root(), gid)?;
    }
    // What killed runs left (mounts, --rm containers) goes first.
    let _ = sweep(&store);
    if let Some(container) = &options.existing {
        let mut prepared = false;
        return run_on(container, spec, options, sequence, extend, &mut prepared);
    }
    // Its root owns the image's files: idmapped layers (or shifted copies).
    let mut wanted = options.container.clone();
    wanted.userns = IdMapping::of(&spec);
    let container = store.create(&wanted)?;
    let mut prepared = false;
    let result = run_on(&container, spec, options, sequence, extend, &mut prepared);
    // A container whose preparation failed never started: it is not kept,
    // even without --rm, so nothing half-made stays behind.
    if (options.container.auto_remove || !prepared)
        && let Err(e) = store.remove(&container)
    {
        ch01_chroot::events::warning(format!("{}: warning: {e}", program()));
    }
    result
}

fn run_on<F>(
    container: &Container,
    mut spec: ContainerSpec,
    options: &RunOptions,
    mut sequence: StartSequence,
    extend: F,
    prepared: &mut bool,
) -> Result<i32, Error>
where
    F: FnOnce(&Container, &mut ContainerSpec, &mut StartSequence) -> Result<(), Error>,
{
    // The maps its files were idmapped or shifted for are its maps.
    if let Some(mapping) = &container.config.userns {
        spec.namespaces.insert(Namespace::User);
        spec.uid_map = mapping.uid.clone();
        spec.gid_map = mapping.gid.clone();
    }
    let mounted = container.mount()?;
    spec.rootfs = container.rootfs();
    extend(container, &mut spec, &mut sequence)?;
    *prepared = true;
    // The cgroup is named after the container (`berth/<id>`).
    let mut cgroups = options.cgroups.clone();
    cgroups.name = Some(container.config.id.clone());
    let code = ch03_cgroups::run::run_with(&spec, &cgroups, sequence)?;
    mounted.unmount()?;
    Ok(code)
}
// ANCHOR_END: run
