//! Volumes for a container with a user namespace of its own.
//!
//! Its root is host uid 100000 (say), and a volume's files belong to the
//! host's ids: through a plain bind it would find its own new volume owned
//! by `nobody`, and copying the image's files in would fail. Each volume is
//! bind-mounted from an idmapped view instead (chapter 4's), made here in
//! the monitor before the container's mount namespace copies it, and
//! detached once the container runs: the container's root owns what host
//! root owns, and writes as host root's ids, as it would without the user
//! namespace. Host directories (`-v /dir:/x`) stay as they are, as with
//! Docker's `userns-remap`. Where the filesystem cannot be idmapped, a new
//! (empty) volume is given to the container's root instead, as Docker's
//! `userns-remap` does with every volume.

use std::os::unix::fs::MetadataExt;

use ch02_namespaces::binds::{BindMount, MountSource};
use ch02_namespaces::sequence::{ParentContext, ParentStep};
use ch04_overlay::idmapped::{self, MapNamespace, Views};
use ch04_overlay::overlay::IDMAPPED_VOLUMES_DIR;
use ch04_overlay::store::Container;

use crate::mounts::MountPoint;
use crate::{Error, Result};

// ANCHOR: volume_views
/// Points the container's volume binds at idmapped views of the volumes
/// (`binds` is [`crate::mounts::bind_mounts`] of `points`); the views go
/// with the returned step.
pub fn idmap_volumes(
    container: &Container,
    points: &[MountPoint],
    binds: &mut [BindMount],
) -> Result<Option<ReleaseViews>> {
    let Some(mapping) = &container.config.userns else {
        return Ok(None);
    };
    let volumes: Vec<usize> = (0..binds.len())
        .filter(|&i| points[i].kind == "volume" && !points[i].tmpfs_volume)
        .collect();
    if volumes.is_empty() {
        return Ok(None);
    }
    let ns = MapNamespace::new(mapping)?;
    let views = Views::new(container.dir.join(IDMAPPED_VOLUMES_DIR))?;
    for (n, i) in volumes.into_iter().enumerate() {
        let MountSource::Host(source) = binds[i].source.clone() else {
            continue;
        };
        if idmapped::supported(&[&source], &ns) {
            let view = views.view(&source, &format!("v{n}"), &ns, false)?;
            binds[i].source = MountSource::Host(view);
        } else {
            give_new_volume(&source, mapping)?;
        }
    }
    Ok(Some(ReleaseViews(Some(views))))
}
// ANCHOR_END: volume_views

/// No idmapped mounts: an empty volume's directory becomes the
/// container's root's, so it can fill and write it (its files then keep
/// that root's host ids). A volume with files is left as it is.
fn give_new_volume(source: &std::path::Path, mapping: &idmapped::IdMapping) -> Result<()> {
    let empty = std::fs::read_dir(source).is_ok_and(|mut d| d.next().is_none());
    let meta = std::fs::metadata(source)
        .map_err(|e| Error::engine(format!("volume {}: {e}", source.display())))?;
    if empty {
        let (uid, gid) = mapping.to_host(meta.uid(), meta.gid());
        std::os::unix::fs::chown(source, Some(uid), Some(gid))
            .map_err(|e| Error::engine(format!("volume {}: chown: {e}", source.display())))?;
    }
    Ok(())
}

/// The parent step that detaches the views once the container runs (its
/// mount namespace has its own copies), or when it fails to.
pub struct ReleaseViews(Option<Views>);

impl ParentStep for ReleaseViews {
    fn name(&self) -> &str {
        "idmapped-volumes"
    }
    fn run(&mut self, _ctx: &ParentContext) -> std::result::Result<(), Error> {
        Ok(())
    }
    fn started(&mut self, _ctx: &ParentContext) {
        self.0.take();
    }
    fn teardown(&mut self, _ctx: &ParentContext) {
        self.0.take();
    }
}
