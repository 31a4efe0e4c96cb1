//! A bundle's config.json, read with the `oci-spec` types and turned into
//! chapter 2's [`Spec`]: what fits is mapped, what berth-runtime cannot do
//! yet is refused with the reason (mounts: see [`super::mounts`]).

use std::path::{Path, PathBuf};

use ch02_namespaces::Spec;
use ch02_namespaces::namespaces::{Namespace, Namespaces};
use ch06_images::runconfig::User;
use oci_spec::runtime::{LinuxNamespaceType, Spec as Config};

use crate::Error;

/// A bundle read from disk: its absolute directory, its config, the
/// chapter 2 spec built from it.
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Config,
    pub spec: Spec,
    /// The user to switch to, when not root (`process.user`).
    pub user: Option<User>,
    /// config.json's mounts that chapter 2 does not make itself.
    pub mounts: Vec<super::mounts::Planned>,
}

/// Reads `dir/config.json` and builds the spec.
pub fn load(dir: &Path) -> Result<Bundle, Error> {
    let dir = std::path::absolute(dir)
        .map_err(|e| Error::invalid(format!("bundle {}: {e}", dir.display())))?;
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(Error::invalid(format!(
            "bundle {}: no config.json (make one with `berth-runtime spec --bundle {}`)",
            dir.display(),
            dir.display()
        )));
    }
    // Read with serde_json directly: its errors say what and where
    // (oci-spec's loader says only "serde failed").
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let config: Config = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let spec = to_spec(&dir, &config)?;
    let mounts = super::mounts::plan(&dir, &config);
    let user = config.process().as_ref().and_then(user);
    Ok(Bundle {
        dir,
        user,
        config,
        spec,
        mounts,
    })
}

/// The root filesystem's host path (`root.path` is relative to the bundle).
pub fn rootfs(dir: &Path, config: &Config) -> Result<PathBuf, Error> {
    let root = config.root().as_ref().ok_or_else(|| {
        Error::invalid("config.json has no root: add \"root\": {\"path\": \"rootfs\"}")
    })?;
    Ok(dir.join(root.path()))
}

// ANCHOR: to_spec
/// The chapter 2 spec of `config` (the bundle at `dir`).
pub fn to_spec(dir: &Path, config: &Config) -> Result<Spec, Error> {
    let process = config
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("config.json has no process: add process.args"))?;
    let argv = process.args().clone().unwrap_or_default();
    if argv.is_empty() {
        return Err(Error::invalid(
            "config.json: process.args is empty: name the command to run",
        ));
    }
    let mut spec = Spec::new(rootfs(dir, config)?, argv);
    spec.tty = process.terminal().unwrap_or(false);
    spec.env = process.env().clone().unwrap_or_default();
    spec.cwd = process.cwd().clone();
    spec.namespaces = namespaces(config)?;
    if let Some(linux) = config.linux() {
        if let Some(maps) = linux.uid_mappings() {
            spec.uid_map = maps.iter().map(id_map).collect();
        }
        if let Some(maps) = linux.gid_mappings() {
            spec.gid_map = maps.iter().map(id_map).collect();
        }
    }
    if let Some(hostname) = config.hostname() {
        spec.hostname = hostname.clone();
    }
    Ok(spec)
}
// ANCHOR_END: to_spec

/// `process.user` as chapter 6's user, unless it is plain root.
fn user(process: &oci_spec::runtime::Process) -> Option<User> {
    let user = process.user();
    let groups = user.additional_gids().clone().unwrap_or_default();
    if user.uid() == 0 && user.gid() == 0 && groups.is_empty() {
        return None;
    }
    Some(User {
        uid: user.uid(),
        gid: user.gid(),
        groups,
        home: String::new(),
    })
}

fn id_map(map: &oci_spec::runtime::LinuxIdMapping) -> ch02_namespaces::idmap::IdMap {
    ch02_namespaces::idmap::IdMap {
        inside: map.container_id(),
        outside: map.host_id(),
        count: map.size(),
    }
}

/// The namespaces `linux.namespaces` asks for; joining one by path is
/// refused for now.
fn namespaces(config: &Config) -> Result<Namespaces, Error> {
    let mut set = Namespaces::default();
    for ns in set.clone().iter() {
        set.remove(ns);
    }
    let listed = config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in listed {
        let kind = match ns.typ() {
            LinuxNamespaceType::Mount => Namespace::Mount,
            LinuxNamespaceType::Cgroup => Namespace::Cgroup,
            LinuxNamespaceType::Uts => Namespace::Uts,
            LinuxNamespaceType::Ipc => Namespace::Ipc,
            LinuxNamespaceType::User => Namespace::User,
            LinuxNamespaceType::Pid => Namespace::Pid,
            LinuxNamespaceType::Network => Namespace::Net,
            LinuxNamespaceType::Time => Namespace::Time,
        };
        if let Some(path) = ns.path() {
            return Err(Error::invalid(format!(
                "config.json: joining the {} namespace at {} is not supported yet: remove its path",
                kind.name(),
                path.display()
            )));
        }
        set.insert(kind);
    }
    Ok(set)
}
