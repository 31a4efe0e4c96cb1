//! `run`: chapter 4's container, connected to a network.
//!
//! Chapter 4 creates the container and mounts its root; before the
//! container starts, [`connect`] chooses its network namespace (a new one,
//! or the host's for `--network host`), makes sure its root has regular
//! files at `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` to mount
//! over, and adds the two steps of [`crate::step`]: the parent attaches the
//! waiting child to its network and writes the three files into the
//! container's state directory, the child bind-mounts them before
//! `pivot_root`. The parent step's teardown gives the address, the veth
//! pair and the published ports back when the container exits.

use std::net::Ipv4Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ch02_namespaces::inroot::resolve_in_root;
use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::{Spec, StartSequence};
use ch04_overlay::store::Container;

use crate::attach::Request;
use crate::mode::{NetworkMode, PortMapping};
use crate::names::container_names;
use crate::network::Host;
use crate::reserve::reserve;
use crate::resolver::Launcher;
use crate::step::{EtcFilesStep, NetworkStep, apply_mode};
use crate::{Error, Result};

/// What chapter 5 adds to a run: `--network`, `-p`, `--ip`, `--dns`, `--add-host`.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    pub mode: NetworkMode,
    /// `-p [IP:]HOST:CONTAINER[/PROTO]`: published ports (bridge networks only).
    pub ports: Vec<PortMapping>,
    /// `-P`: every port the image exposes, on a free host port (chapter 6
    /// knows the image and turns it into `ports` with [`crate::reserve::publish_all`]).
    pub publish_all: bool,
    /// `--ip`: a fixed address in the network's subnet.
    pub ip: Option<Ipv4Addr>,
    /// `--network-alias`: more names on the network.
    pub aliases: Vec<String>,
    /// More named networks the container joins (`eth1`, ...): an engine's
    /// `network connect` on a created container.
    pub also: Vec<Connection>,
    /// `--dns`: nameservers instead of the host's.
    pub dns: Vec<Ipv4Addr>,
    /// `--add-host NAME:IP`: more lines for `/etc/hosts`.
    pub extra_hosts: Vec<(String, Ipv4Addr)>,
    /// How the binary starts a network's resolver (None: no name resolution).
    pub resolver: Option<Launcher>,
}

// ANCHOR: connection
/// One network of a container, with its own address and aliases (an
/// engine keeps its list in the container's record: the first is `eth0`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    pub network: String,
    /// The address asked for (`--ip`), else one is given at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
}
// ANCHOR_END: connection

impl NetworkOptions {
    /// Refuses combinations that mean nothing, before anything is created.
    pub fn validate(&self) -> Result<()> {
        let bridged = matches!(self.mode, NetworkMode::Bridge | NetworkMode::Named(_));
        if !bridged && !self.ports.is_empty() {
            let why = match self.mode {
                NetworkMode::Host => "the container's ports are the host's already",
                _ => "the container has only lo",
            };
            return Err(Error::invalid(format!(
                "-p needs a bridge network; with --network {} {why}",
                self.mode
            )));
        }
        if !bridged && !self.aliases.is_empty() {
            return Err(Error::invalid(format!(
                "--network-alias needs a bridge network, not --network {}",
                self.mode
            )));
        }
        if !bridged && self.ip.is_some() {
            return Err(Error::invalid(format!(
                "--ip needs a bridge network, not --network {}",
                self.mode
            )));
        }
        for (name, _) in &self.extra_hosts {
            ch02_namespaces::hostname::check_hostname(name)
                .map_err(|e| Error::engine(format!("--add-host: {}", e.message)))?;
        }
        for (i, p) in self.ports.iter().enumerate() {
            if let Some(q) = self.ports[..i].iter().find(|q| p.conflicts_with(q)) {
                return Err(Error::invalid(format!(
                    "host port {} is published twice ({q} and {p})",
                    p.host_port
                )));
            }
        }
        Ok(())
    }
}

/// What chapter 5 adds to chapter 4's options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Chapter 4's: the state root, the container, chapter 3's limits.
    pub storage: ch04_overlay::run::RunOptions,
    pub network: NetworkOptions,
}

/// The network state of a state root: `<root>/network`.
pub fn host_for(root: &Path) -> Result<Host> {
    Host::for_root(root)
}

// ANCHOR: run
/// Runs `spec` on a new container's root, connected as `options.network`
/// asks; returns the exit code.
pub fn run(spec: Spec, options: &RunOptions) -> Result<i32> {
    run_with(spec, options, StartSequence::standard(), |_, _, _| Ok(()))
}

/// [`run`] for later chapters: `extend` sees the new, connected container
/// before it starts, and may change the spec and add steps (chapter 6
/// applies the image's user and working directory).
pub fn run_with<F>(
    spec: Spec,
    options: &RunOptions,
    sequence: StartSequence,
    extend: F,
) -> Result<i32>
where
    F: FnOnce(&Container, &mut Spec, &mut StartSequence) -> Result<()>,
{
    options.network.validate()?;
    let mut host = host_for(&options.storage.root)?;
    host.resolver = options.network.resolver.clone();
    // What killed runs left on any network of this root goes first.
    crate::sweep::reclaim_root(&host)?;
    check_network_exists(&host, &options.network.mode)?;
    for more in &options.network.also {
        check_network_exists(&host, &NetworkMode::Named(more.network.clone()))?;
    }
    // Held until the run returns: the container's whole life.
    let _ports = reserve(&options.network.ports)?;
    ch04_overlay::run::run_with(
        spec,
        &options.storage,
        sequence,
        |container, spec, sequence| {
            connect(&host, &options.network, container, spec, sequence)?;
            extend(container, spec, sequence)
        },
    )
}

/// Before the container starts: its network namespace, its /etc targets,
/// and the network steps.
pub fn connect(
    host: &Host,
    network: &NetworkOptions,
    container: &Container,
    spec: &mut Spec,
    sequence: &mut StartSequence,
) -> Result<()> {
    if !spec.has(Namespace::Net) && network.mode.needs_new_netns() {
        return Err(Error::invalid(
            "--share net shares the host's network: use --network host",
        ));
    }
    apply_mode(spec, &network.mode);
    if !container.config.read_only {
        ensure_etc_targets(&spec.rootfs)?;
    }
    let (id, name) = (&container.config.id, &container.config.name);
    let request = Request {
        id: id.clone(),
        container: name.clone(),
        mode: network.mode.clone(),
        ports: network.ports.clone(),
        ip: network.ip,
        aliases: network.aliases.clone(),
        names: container_names(name, id, &network.aliases),
        dns: network.dns.clone(),
    };
    let etc = container.dir.join("etc");
    let mut step = NetworkStep::new(host.clone(), request, &etc);
    step.also = network
        .also
        .iter()
        .map(|c| Request {
            id: container.config.id.clone(),
            container: container.config.name.clone(),
            mode: NetworkMode::Named(c.network.clone()),
            ports: vec![],
            ip: c.ip,
            aliases: c.aliases.clone(),
            names: container_names(name, id, &c.aliases),
            dns: network.dns.clone(),
        })
        .collect();
    step.aliases = vec![container.config.name.clone()];
    step.dns = network.dns.clone();
    step.extra_hosts = network.extra_hosts.clone();
    sequence.parent_step(Box::new(step));
    sequence.child_step_before("pivot_root", Box::new(EtcFilesStep::new(&etc)));
    Ok(())
}
// ANCHOR_END: run

/// A named network must exist before a container is created for it.
fn check_network_exists(host: &Host, mode: &NetworkMode) -> Result<()> {
    if let NetworkMode::Named(name) = mode {
        let lock = host.state.lock()?;
        if host.network(&lock, name)?.is_none() {
            return Err(Error::not_found(format!(
                "network {name} not found: create it with `network create {name}`"
            )));
        }
    }
    Ok(())
}

// ANCHOR: etc_targets
/// Regular files at `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`
/// in the container's own root (written through the mounted root, so into
/// its upper layer, never a lower one): a bind mount needs a target.
///
/// The root is the image's, so its links are the image's too: `/etc` is
/// resolved inside the root (chapter 2's `resolve_in_root`), never on the
/// host's side, and a symbolic link in place of one of the files (common
/// for resolv.conf) is replaced, not followed; the files are created with
/// `O_NOFOLLOW | O_EXCL`.
pub fn ensure_etc_targets(rootfs: &Path) -> Result<()> {
    let etc = resolve_in_root(rootfs, Path::new("/etc"))?;
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        Error::engine(format!("{what} {}: {e}", path.display()))
    };
    match etc.symlink_metadata() {
        Err(_) => {
            std::fs::create_dir_all(&etc).map_err(|e| fail("creating", &etc, e))?;
            std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| fail("chmod", &etc, e))?;
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::engine(format!(
                "{} is not a directory: cannot provide /etc/hosts",
                etc.display()
            )));
        }
        Ok(_) => {}
    }
    for name in ["hosts", "hostname", "resolv.conf"] {
        let path = etc.join(name);
        match path.symlink_metadata() {
            Ok(m) if m.is_file() => continue,
            Ok(m) if m.is_symlink() => {
                std::fs::remove_file(&path).map_err(|e| fail("replacing", &path, e))?
            }
            Ok(_) => {
                return Err(Error::engine(format!(
                    "{} is not a file: cannot provide /etc/{name}",
                    path.display()
                )));
            }
            Err(_) => {}
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| fail("creating", &path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| fail("chmod", &path, e))?;
    }
    Ok(())
}
// ANCHOR_END: etc_targets

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_need_a_bridge() {
        let mut o = NetworkOptions {
            mode: NetworkMode::Host,
            ports: vec!["8080:80".parse().unwrap()],
            ..Default::default()
        };
        assert!(
            o.validate()
                .unwrap_err()
                .message
                .contains("-p needs a bridge")
        );
        o.mode = NetworkMode::Bridge;
        o.validate().unwrap();
        o.ports.push("127.0.0.1:8080:81".parse().unwrap());
        assert!(
            o.validate()
                .unwrap_err()
                .message
                .contains("published twice")
        );
    }

    #[test]
    fn etc_targets_stay_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", host.path().join("resolv.conf")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(host.path(), dir.path().join("etc")).unwrap();
        ensure_etc_targets(dir.path()).unwrap();
        // The host's directory is untouched; the files are in the root.
        let names: Vec<_> = std::fs::read_dir(host.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        let inside = dir.path().join(host.path().strip_prefix("/").unwrap());
        assert!(inside.join("hostname").is_file());
    }

    #[test]
    fn etc_targets_are_created_and_links_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/hosts"), "kept\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("etc/resolv.conf")).unwrap();
        ensure_etc_targets(dir.path()).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.path().join("etc").join(n)).unwrap();
        assert_eq!(read("hosts"), "kept\n");
        assert_eq!(read("hostname"), "");
        assert_eq!(read("resolv.conf"), "");
        assert!(
            !dir.path()
                .join("etc/resolv.conf")
                .symlink_metadata()
                .unwrap()
                .is_symlink()
        );
    }
}
