//! The network as steps of chapter 2's start sequence.
//!
//! One parent step, `network`, attaches the waiting child (by its pid) and
//! writes its `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`; its
//! teardown detaches. One child step, `etc-files`, bind-mounts those files
//! over the container's before `pivot_root`. The child was cloned before
//! the parent step ran, so it cannot learn the address from memory: the
//! files' directory is fixed when the steps are built, and the child only
//! mounts what the parent wrote there.
//!
//! ```ignore
//! let mut sequence = StartSequence::standard();
//! sequence.parent_step(Box::new(NetworkStep::new(host, request, &dir)));
//! sequence.child_step_before("pivot_root", Box::new(EtcFilesStep::new(&dir)));
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::{ChildContext, ChildStep, ParentContext, ParentStep, Spec};
use nix::mount::{MsFlags, mount};

use crate::attach::{Endpoint, Request, attach};
use crate::etc::{EtcFiles, check_values};
use crate::mode::NetworkMode;
use crate::network::Host;
use crate::{Error, Result};

/// `--network host` shares the host's namespace: take `net` out of the spec.
pub fn apply_mode(spec: &mut Spec, mode: &NetworkMode) {
    if mode.needs_new_netns() {
        spec.namespaces.insert(Namespace::Net);
    } else {
        spec.namespaces.remove(Namespace::Net);
    }
}

// ANCHOR: network_step
/// Parent side: attach the child to its network, write its /etc files.
pub struct NetworkStep {
    host: Host,
    request: Request,
    etc_dir: PathBuf,
    /// More names of this container for `/etc/hosts` (its name).
    pub aliases: Vec<String>,
    /// Other containers' names and addresses for `/etc/hosts`.
    pub extra_hosts: Vec<(String, Ipv4Addr)>,
    /// `--dns`: nameservers instead of the host's.
    pub dns: Vec<Ipv4Addr>,
    /// More networks to join after the first (`eth1`, ...).
    pub also: Vec<Request>,
    /// The first network's endpoint, then those of `also`.
    endpoints: Vec<Endpoint>,
}

impl NetworkStep {
    pub fn new(host: Host, request: Request, etc_dir: &Path) -> NetworkStep {
        NetworkStep {
            host,
            request,
            etc_dir: etc_dir.to_path_buf(),
            aliases: vec![],
            extra_hosts: vec![],
            dns: vec![],
            also: vec![],
            endpoints: vec![],
        }
    }

    /// The container's address once attached to a bridge network.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        self.endpoints.first().and_then(Endpoint::ip)
    }

    fn detach_all(&mut self) {
        for endpoint in self.endpoints.drain(..).rev() {
            if let Err(e) = endpoint.detach() {
                ch01_chroot::events::warning(format!("warning: network teardown: {e}"));
            }
        }
    }
}

impl ParentStep for NetworkStep {
    fn name(&self) -> &str {
        "network"
    }

    fn run(&mut self, ctx: &ParentContext) -> Result<()> {
        check_values(&ctx.spec.hostname, &self.aliases, &self.extra_hosts)?;
        let pid = ctx.child.as_raw();
        let first = attach(&self.host, &self.request, pid)?;
        let ip = first.ip();
        self.endpoints.push(first);
        // Each further network its own interface; a failure undoes all.
        let mut result = Ok(());
        for request in &self.also {
            match attach(&self.host, request, pid) {
                Ok(endpoint) => self.endpoints.push(endpoint),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        // On a user-defined network, its resolver, which sends other names
        // to the `--dns` servers if given (as Docker's 127.0.0.11 does).
        let nameserver = self.endpoints.first().and_then(Endpoint::nameserver);
        let dns = match nameserver {
            Some(resolver) => vec![resolver],
            None => self.dns.clone(),
        };
        let files = EtcFiles::generate(
            &ctx.spec.hostname,
            &self.aliases,
            ip,
            &self.extra_hosts,
            &host_resolv,
            &dns,
        );
        if let Err(e) = result.and_then(|()| files.write(&self.etc_dir)) {
            self.detach_all();
            return Err(e);
        }
        Ok(())
    }

    fn teardown(&mut self, _ctx: &ParentContext) {
        self.detach_all();
    }
}
// ANCHOR_END: network_step

// ANCHOR: etc_files_step
/// Child side: the generated files bind-mounted over `/etc/hosts`,
/// `/etc/hostname` and `/etc/resolv.conf`, so no image layer is written.
/// A target the rootfs lacks is skipped (with chapter 4's overlay the
/// engine creates it in the container's own upper layer first). Links on
/// the way are resolved inside the root, as the container will see them,
/// never on the host's side.
pub struct EtcFilesStep {
    dir: PathBuf,
}

impl EtcFilesStep {
    pub fn new(dir: &Path) -> EtcFilesStep {
        EtcFilesStep {
            dir: dir.to_path_buf(),
        }
    }
}

impl ChildStep for EtcFilesStep {
    fn name(&self) -> &str {
        "etc-files"
    }

    fn run(&mut self, ctx: &mut ChildContext) -> Result<()> {
        for (file, target) in [
            ("hosts", "/etc/hosts"),
            ("hostname", "/etc/hostname"),
            ("resolv.conf", "/etc/resolv.conf"),
        ] {
            let source = self.dir.join(file);
            // Resolved inside the root: the image's links are the image's.
            let target = ctx.resolve(target)?;
            let regular = target.symlink_metadata().is_ok_and(|m| m.is_file());
            if !source.exists() || !regular {
                continue;
            }
            mount(
                Some(&source),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                Error::engine(format!("bind-mounting {}: {}", target.display(), e.desc()))
            })?;
        }
        Ok(())
    }
}
// ANCHOR_END: etc_files_step
