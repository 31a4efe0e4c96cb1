//! A container's mounts: `-v`, `--mount` and `--tmpfs` parsed (checked
//! before anything exists), resolved once at `create` into the record's
//! [`MountPoint`]s (volumes made, `-v` bind sources made), and handed to
//! chapter 2's `bind-mounts` step at every start.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::Flock;

use ch02_namespaces::binds::{BindMount, MountSource};
use serde::{Deserialize, Serialize};

use crate::context::Engine;
use crate::volumes::store::Volumes;
use crate::{Error, Result};

/// What the user asked for, before anything is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A host path; `create` says whether a missing one is made (`-v`)
    /// or an error (`--mount`, checked at parse time).
    Bind {
        source: PathBuf,
        create: bool,
    },
    /// A named volume, or an anonymous one (`None`: a new random name).
    Volume {
        name: Option<String>,
    },
    Tmpfs {
        options: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub request: Request,
    pub target: PathBuf,
    pub read_only: bool,
}

// ANCHOR: mount_point
/// One of a container's mounts as the record keeps it (and `inspect`
/// shows it, under Docker's names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// The volume's name (empty for a bind or a tmpfs).
    pub name: String,
    /// The host path mounted (the volume's `_data`), empty for a tmpfs.
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
    /// `tmpfs`'s options (and a tmpfs volume's).
    pub options: String,
    /// A volume made for this container alone: `rm -v` removes it.
    pub anonymous: bool,
    /// A volume of the local driver's `type=tmpfs`: a new tmpfs with
    /// `options` at each mount, not a bind of `source`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tmpfs_volume: bool,
}
// ANCHOR_END: mount_point

/// Every mount flag of a `create`, in the order given.
pub fn parse_all(volumes: &[String], mounts: &[String], tmpfs: &[String]) -> Result<Vec<Wanted>> {
    let mut out = Vec::new();
    for v in volumes {
        out.push(parse_volume(v)?);
    }
    for m in mounts {
        out.push(parse_mount(m)?);
    }
    for t in tmpfs {
        out.push(parse_tmpfs(t)?);
    }
    let mut seen = std::collections::BTreeSet::new();
    for w in &out {
        if !seen.insert(w.target.clone()) {
            return Err(Error::invalid(format!(
                "duplicate mount point {}: mount one thing there",
                w.target.display()
            )));
        }
    }
    Ok(out)
}

// ANCHOR: parse_volume
/// `-v`: `/dst` (anonymous volume), `NAME:/dst[:ro|rw]` (named volume),
/// `/src:/dst[:ro|rw]` (host path; a missing one is made, as Docker does).
pub fn parse_volume(spec: &str) -> Result<Wanted> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode] => (Some(*source), *target, *mode),
        _ => return Err(bad_volume(spec, "too many colons")),
    };
    let read_only =
        read_only_mode(mode).ok_or_else(|| bad_volume(spec, "mode must be ro or rw"))?;
    let target = absolute_target(target)
        .ok_or_else(|| bad_volume(spec, "the target must be an absolute path"))?;
    let request = match source {
        None => Request::Volume { name: None },
        Some(s) if s.starts_with('/') => Request::Bind {
            source: PathBuf::from(s),
            create: true,
        },
        Some(name) => {
            check_name(name)?;
            Request::Volume {
                name: Some(name.to_string()),
            }
        }
    };
    Ok(Wanted {
        request,
        target,
        read_only,
    })
}
// ANCHOR_END: parse_volume

fn bad_volume(spec: &str, why: &str) -> Error {
    Error::invalid(format!(
        "invalid volume {spec:?}: {why} (use /dst, NAME:/dst[:ro] or /host/path:/dst[:ro])"
    ))
}

fn read_only_mode(mode: &str) -> Option<bool> {
    let mut read_only = false;
    for word in mode.split(',').filter(|w| !w.is_empty()) {
        match word {
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => return None,
        }
    }
    Some(read_only)
}

fn absolute_target(target: &str) -> Option<PathBuf> {
    (target.starts_with('/') && target != "/").then(|| PathBuf::from(target))
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok =
        name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid volume name {name:?}: use letters, digits, _ . - (two or more, starting with a letter or digit); a host path starts with /"
        )))
    }
}

// ANCHOR: parse_mount
/// `--mount type=bind|volume|tmpfs,source=...,target=...[,readonly]`.
/// A bind's source must exist: `--mount` never makes host paths.
pub fn parse_mount(spec: &str) -> Result<Wanted> {
    let bad = |why: String| Error::invalid(format!("invalid --mount {spec:?}: {why}"));
    let (mut kind, mut source, mut target) = ("volume", None, None);
    let (mut read_only, mut options) = (false, Vec::new());
    for field in spec.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (key, value) {
            ("type", Some(v)) => kind = v,
            ("source" | "src", Some(v)) => source = Some(v),
            ("target" | "destination" | "dst", Some(v)) => target = Some(v),
            ("readonly" | "ro", None | Some("true" | "1")) => read_only = true,
            ("readonly" | "ro", Some("false" | "0")) => read_only = false,
            ("tmpfs-size", Some(v)) => options.push(format!("size={v}")),
            ("tmpfs-mode", Some(v)) => options.push(format!("mode={v}")),
            ("volume-nocopy" | "bind-propagation", _) => {}
            _ => return Err(bad(format!("unknown field {field:?}"))),
        }
    }
    let target = target
        .and_then(absolute_target)
        .ok_or_else(|| bad("target= must be an absolute path".into()))?;
    let request = match (kind, source) {
        ("bind", Some(s)) => {
            let source = PathBuf::from(s);
            if !source.is_absolute() || !source.exists() {
                return Err(bad(format!(
                    "bind source path does not exist: {s} (create it, or use -v, which does)"
                )));
            }
            Request::Bind {
                source,
                create: false,
            }
        }
        ("bind", None) => return Err(bad("a bind needs source=".into())),
        ("volume", name) => {
            if let Some(n) = name {
                check_name(n)?;
            }
            Request::Volume {
                name: name.map(String::from),
            }
        }
        ("tmpfs", None) => Request::Tmpfs {
            options: options.join(","),
        },
        ("tmpfs", Some(_)) => return Err(bad("a tmpfs takes no source".into())),
        (other, _) => {
            return Err(bad(format!(
                "unknown type {other:?}: bind, volume or tmpfs"
            )));
        }
    };
    Ok(Wanted {
        request,
        target,
        read_only,
    })
}
// ANCHOR_END: parse_mount

/// `--tmpfs /dst[:size=64m,mode=1777]`.
pub fn parse_tmpfs(spec: &str) -> Result<Wanted> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    let target = absolute_target(target).ok_or_else(|| {
        Error::invalid(format!(
            "invalid --tmpfs {spec:?}: the target must be an absolute path"
        ))
    })?;
    let mut kept = Vec::new();
    let mut read_only = false;
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => kept.push(o),
        }
    }
    Ok(Wanted {
        request: Request::Tmpfs {
            options: kept.join(","),
        },
        target,
        read_only,
    })
}

// ANCHOR: resolve
/// Makes what the mounts need (volumes, `-v`'s missing host directories)
/// and returns what the record keeps, with the volume store's lock: held
/// until the record names the volumes, so no `volume rm` finds them unused
/// meanwhile.
pub fn resolve(engine: &Engine, wanted: &[Wanted]) -> Result<(Vec<MountPoint>, Flock<File>)> {
    let volumes = Volumes::open(engine)?;
    let lock = volumes.lock()?;
    let mut out = Vec::new();
    for w in wanted {
        match resolve_one(&volumes, w) {
            Ok(point) => out.push(point),
            Err(e) => {
                // Nothing half-made: the anonymous volumes made so far go.
                for p in out.iter().filter(|p| p.anonymous) {
                    let _ = volumes.remove_unlocked(&p.name);
                }
                return Err(e);
            }
        }
    }
    Ok((out, lock))
}

/// One mount's record entry, its volume or host directory made.
fn resolve_one(volumes: &Volumes, w: &Wanted) -> Result<MountPoint> {
    let mut point = MountPoint {
        destination: w.target.clone(),
        read_only: w.read_only,
        ..MountPoint::default()
    };
    match &w.request {
        Request::Bind { source, create } => {
            if *create && !source.exists() {
                std::fs::create_dir_all(source)
                    .map_err(|e| Error::engine(format!("creating {}: {e}", source.display())))?;
            }
            point.kind = "bind".into();
            point.source = source.clone();
        }
        Request::Volume { name } => {
            let volume = match name {
                Some(n) => volumes.get_or_create_locked(n)?,
                None => volumes.create_locked(None, Default::default(), Default::default())?,
            };
            point.kind = "volume".into();
            point.anonymous = name.is_none();
            point.source = volume.data();
            if let Some(options) = volume.tmpfs() {
                point.tmpfs_volume = true;
                point.options = options;
            } else if !point.source.is_dir() {
                return Err(Error::not_found(format!(
                    "volume {}'s device {} is not a directory: create it, or remove the volume",
                    volume.name,
                    point.source.display()
                )));
            }
            point.name = volume.name;
        }
        Request::Tmpfs { options } => {
            point.kind = "tmpfs".into();
            point.options = options.clone();
        }
    }
    Ok(point)
}
// ANCHOR_END: resolve

// ANCHOR: image_volumes
/// The image's `VOLUME` paths the user did not mount (`-v`, `--mount`,
/// `--tmpfs`, `--volumes-from`): anonymous volumes there, as Docker makes.
pub fn image_volumes<'a>(
    paths: impl IntoIterator<Item = &'a String>,
    wanted: &[Wanted],
    inherited: &[MountPoint],
) -> Vec<Wanted> {
    let taken = |t: &Path| {
        wanted.iter().any(|w| w.target == t) || inherited.iter().any(|m| m.destination == t)
    };
    paths
        .into_iter()
        .filter_map(|p| absolute_target(p))
        .filter(|t| !taken(t))
        .map(|target| Wanted {
            request: Request::Volume { name: None },
            target,
            read_only: false,
        })
        .collect()
}
// ANCHOR_END: image_volumes

// ANCHOR: volumes_from
/// `--volumes-from CONTAINER[:ro|rw]`: the other container's volumes and
/// binds, at the same destinations (its anonymous volumes stay its own).
pub fn volumes_from(engine: &Engine, specs: &[String]) -> Result<Vec<MountPoint>> {
    let mut out = Vec::new();
    for spec in specs {
        let (key, mode) = spec.split_once(':').unwrap_or((spec, ""));
        let read_only = match mode {
            "" => None,
            "ro" => Some(true),
            "rw" => Some(false),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid --volumes-from {spec:?}: the mode is ro or rw"
                )));
            }
        };
        let found = crate::lookup::find(engine, key)?;
        for m in found.record.mounts.iter().filter(|m| m.kind != "tmpfs") {
            out.push(MountPoint {
                read_only: read_only.unwrap_or(m.read_only),
                anonymous: false,
                ..m.clone()
            });
        }
    }
    Ok(out)
}
// ANCHOR_END: volumes_from

/// `rm -v`: the anonymous volumes made for a container go with it (an
/// error only warns: the container is gone either way).
pub fn remove_anonymous(engine: &Engine, points: &[MountPoint]) {
    for p in points.iter().filter(|p| p.anonymous) {
        if let Err(e) = crate::volumes::remove::remove_one(engine, &p.name) {
            ch01_chroot::events::warning(format!("volume {}: {}", p.name, e.message));
        }
    }
}

/// Chapter 2's view of the record's mounts: volumes are host directories
/// filled from the image when new (copy-up).
pub fn bind_mounts(points: &[MountPoint]) -> Vec<BindMount> {
    points
        .iter()
        .map(|p| BindMount {
            source: if p.kind == "tmpfs" || p.tmpfs_volume {
                MountSource::Tmpfs
            } else {
                MountSource::Host(p.source.clone())
            },
            target: p.destination.clone(),
            read_only: p.read_only,
            options: p.options.clone(),
            copy_up: p.kind == "volume" && !p.tmpfs_volume,
        })
        .collect()
}

/// `inspect`'s `Mounts` entry.
pub fn inspect(p: &MountPoint) -> serde_json::Value {
    let path = |p: &Path| p.display().to_string();
    let mut v = serde_json::json!({
        "Type": p.kind,
        "Source": path(&p.source),
        "Destination": path(&p.destination),
        "Mode": if p.read_only { "ro" } else { "" },
        "RW": !p.read_only,
        "Propagation": if p.kind == "bind" { "rprivate" } else { "" },
    });
    if p.kind == "volume" {
        v["Name"] = p.name.clone().into();
        v["Driver"] = "local".into();
        v["Mode"] = if p.read_only { "ro" } else { "z" }.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_forms() {
        let w = parse_volume("/data").unwrap();
        assert_eq!(w.request, Request::Volume { name: None });
        let w = parse_volume("db:/var/lib/db:ro").unwrap();
        assert_eq!(
            w.request,
            Request::Volume {
                name: Some("db".into())
            }
        );
        assert!(w.read_only);
        let w = parse_volume("/srv:/data").unwrap();
        assert!(matches!(w.request, Request::Bind { create: true, .. }));
        assert!(parse_volume("db:data").is_err());
        assert!(parse_volume("d b:/data").is_err());
        assert!(parse_volume("/a:/b:rx").is_err());
    }

    #[test]
    fn mount_and_tmpfs_forms() {
        let w = parse_mount("type=tmpfs,target=/t,tmpfs-size=1m").unwrap();
        assert_eq!(
            w.request,
            Request::Tmpfs {
                options: "size=1m".into()
            }
        );
        let w = parse_mount("source=v1,target=/v,readonly").unwrap();
        assert!(w.read_only);
        assert!(parse_mount("type=bind,source=/no/such/dir,target=/x").is_err());
        assert!(parse_mount("type=nfs,target=/x").is_err());
        let w = parse_tmpfs("/run:size=1m,ro").unwrap();
        assert!(w.read_only);
        assert_eq!(
            w.request,
            Request::Tmpfs {
                options: "size=1m".into()
            }
        );
    }
}
