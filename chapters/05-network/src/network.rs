//! Named networks: a bridge plus a subnet, persisted under the state root.
//!
//! `network create NAME --subnet CIDR` writes `<root>/network/networks/NAME.json`
//! and brings the bridge and its rules up; `ls` reads the files; `rm` takes
//! everything down again. The default network, `bridge`, is created on first
//! use with bridge `berth0` and a private subnet that no host route uses.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::bridge::{Bridge, DEFAULT_BRIDGE, check_ifname};
use crate::cidr::{Cidr, is_private};
use crate::iptables::{BridgeNet, Firewall};
use ch04_overlay::atomic::write_atomic;

use crate::lock::{Locked, StateRoot, host_lock};
use crate::veth::short_id;
use crate::{Error, Result, ipam, sysctl};

/// The default network's name, as in Docker.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Gives a state root's networks a bridge and chains of their own:
/// `BERTH_NETWORK_TAG=t1234` makes the default bridge `berth-t1234` and the
/// chains `BERTHT1234-*`. Tests use it (with their pid) so that concurrent
/// runs never share `berth0` or the `BERTH-*` chains.
pub const TAG_VAR: &str = "BERTH_NETWORK_TAG";

/// One network as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Network {
    pub name: String,
    pub bridge: String,
    pub subnet: Cidr,
    pub gateway: Ipv4Addr,
    /// 64 hex digits, as Docker's network ids (empty in files written
    /// before networks had ids).
    #[serde(default)]
    pub id: String,
    /// `--ip-range`: the part of the subnet addresses are handed out from.
    #[serde(default)]
    pub ip_range: Option<Cidr>,
    /// `--internal`: no way out of the subnet, no way in from outside.
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

// ANCHOR: options
/// What `network create` may say besides the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// `--subnet` (default: a free private /16 or /20).
    pub subnet: Option<Cidr>,
    /// `--gateway` (default: the subnet's first host address).
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`: containers get addresses from this part of the subnet.
    pub ip_range: Option<Cidr>,
    /// `--internal`: no masquerade, no forwarding to or from other interfaces.
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}
// ANCHOR_END: options

impl Network {
    /// The bridge holding the gateway address (`172.18.0.1/16`).
    pub fn bridge(&self) -> Bridge {
        Bridge {
            name: self.bridge.clone(),
            address: self.subnet.with_addr(self.gateway),
        }
    }

    pub fn bridge_net(&self) -> BridgeNet {
        BridgeNet {
            bridge: self.bridge.clone(),
            subnet: self.subnet,
            internal: self.internal,
        }
    }

    /// The addresses containers are given: `--ip-range`, else the subnet.
    pub fn pool(&self) -> Cidr {
        self.ip_range.unwrap_or(self.subnet)
    }
}

/// Where berth keeps its network state and which chains hold its rules.
#[derive(Debug, Clone)]
pub struct Host {
    pub state: StateRoot,
    pub firewall: Firewall,
    /// The default network's bridge (`berth0`).
    pub default_bridge: String,
    /// How to start a user-defined network's resolver; None: containers
    /// keep the host's nameservers and names do not resolve.
    pub resolver: Option<crate::resolver::Launcher>,
}

// ANCHOR: choose_subnet
/// Candidate subnets for the default network, in order: the /16s of
/// 172.17-31 (Docker's pool), then /20s of 192.168.
pub fn candidate_subnets() -> Vec<Cidr> {
    let mut all: Vec<Cidr> = (17..=31)
        .map(|b| Cidr {
            addr: Ipv4Addr::new(172, b, 0, 0),
            prefix: 16,
        })
        .collect();
    all.extend((0..16).map(|i| Cidr {
        addr: Ipv4Addr::new(192, 168, i * 16, 0),
        prefix: 20,
    }));
    all
}

/// The first candidate that overlaps nothing in `taken` (host routes and
/// addresses, other networks).
pub fn choose_subnet(candidates: &[Cidr], taken: &[Cidr]) -> Option<Cidr> {
    candidates
        .iter()
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
        .copied()
}
// ANCHOR_END: choose_subnet

/// The destinations of the host's IPv4 routes (all tables, default routes
/// left out), except those through `ignore_devs`: `ip -4 route show table all`.
pub fn host_routes(ignore_devs: &[String]) -> Result<Vec<(Cidr, String)>> {
    let routes = crate::netlink::Rtnl::open()?.routes()?;
    Ok(routes
        .into_iter()
        // The default route (0.0.0.0/0) and routes through our own bridges.
        .filter(|(dst, dev)| dst.prefix > 0 && !ignore_devs.iter().any(|d| d == dev))
        .map(|(dst, dev)| (dst.subnet(), dev))
        .collect())
}

/// A network name: letters, digits, `_.-`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        return Err(Error::invalid(format!(
            "invalid network name {name:?}: use letters, digits, '_', '.' or '-'"
        )));
    }
    if name == "none" || name == "host" || name == "default" {
        return Err(Error::invalid(format!(
            "{name:?} is a network mode, not a network name"
        )));
    }
    Ok(())
}

/// The bridge of network `name`: `berth-NAME`, or `berth-HASH` when too long.
pub fn bridge_name(name: &str) -> String {
    let plain = format!("berth-{name}");
    if plain.len() <= 15 && check_ifname(&plain).is_ok() {
        plain
    } else {
        format!("berth-{}", short_id(name))
    }
}

/// `--gateway` and `--ip-range` must lie inside the subnet (the gateway
/// a host address of it); the gateway defaults to the first host address.
pub fn check_inside(
    subnet: Cidr,
    gateway: Option<Ipv4Addr>,
    ip_range: Option<Cidr>,
) -> Result<(Ipv4Addr, Option<Cidr>)> {
    let gateway = match gateway {
        Some(g) if !subnet.contains(g) || g == subnet.network() || g == subnet.broadcast() => {
            return Err(Error::invalid(format!(
                "gateway {g} is not a host address of subnet {subnet}: choose one inside it"
            )));
        }
        Some(g) => g,
        None => subnet.gateway().expect("at least two host addresses"),
    };
    let ip_range = match ip_range.map(|r| r.subnet()) {
        Some(r) if !(subnet.contains(r.network()) && subnet.contains(r.broadcast())) => {
            return Err(Error::invalid(format!(
                "ip range {r} is not inside subnet {subnet}: choose a range inside it"
            )));
        }
        other => other,
    };
    Ok((gateway, ip_range))
}

impl Host {
    /// berth's state under `root`, chains `BERTH-*`, default bridge `berth0`.
    pub fn new(root: impl Into<PathBuf>) -> Host {
        Host {
            state: StateRoot::new(root.into()),
            firewall: Firewall::default(),
            default_bridge: DEFAULT_BRIDGE.into(),
            resolver: None,
        }
    }

    /// [`Host::new`], with the bridge and chains of [`TAG_VAR`] if it is set.
    pub fn for_root(root: impl Into<PathBuf>) -> Result<Host> {
        let host = Host::new(root);
        match std::env::var(TAG_VAR) {
            Ok(tag) if !tag.is_empty() => host.tagged(&tag),
            _ => Ok(host),
        }
    }

    /// This host with default bridge `berth-TAG` and chains `BERTHTAG-*`.
    pub fn tagged(mut self, tag: &str) -> Result<Host> {
        if tag.len() > 9 || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(format!(
                "invalid {TAG_VAR} {tag:?}: at most 9 letters or digits"
            )));
        }
        self.firewall = Firewall::with_prefix(&format!("BERTH{}", tag.to_ascii_uppercase()))?;
        self.default_bridge = format!("berth-{tag}");
        Ok(self)
    }

    /// The bridge of network `name` under this host: [`bridge_name`], or,
    /// for a tagged host, `berthTAG` and hex digits of the name (a
    /// different choice when one of `taken` has it), so that two test
    /// runs' networks of the same name never share a bridge, and `cargo
    /// lab clean` still knows it for berth's.
    pub fn bridge_for(&self, name: &str, taken: &[String]) -> String {
        if name == DEFAULT_NETWORK {
            return self.default_bridge.clone();
        }
        match self.default_bridge.strip_prefix("berth-") {
            Some(tag) if !tag.is_empty() && tag.len() <= 9 => {
                let room = 15 - 5 - tag.len();
                (0u32..)
                    .map(|n| format!("berth{tag}{}", &short_id(&format!("{name}/{n}"))[..room]))
                    .find(|b| !taken.contains(b))
                    .expect("a free bridge name")
            }
            _ => bridge_name(name),
        }
    }

    fn network_path(&self, name: &str) -> PathBuf {
        self.state
            .dir()
            .join("networks")
            .join(format!("{name}.json"))
    }

    /// The network called `name`, if it exists. Needs the lock.
    pub fn network(&self, _lock: &Locked, name: &str) -> Result<Option<Network>> {
        self.network_snapshot(name)
    }

    /// The network called `name` without the lock (its file is replaced
    /// atomically): for a resolver starting while its attach holds the lock.
    pub fn network_snapshot(&self, name: &str) -> Result<Option<Network>> {
        let path = self.network_path(name);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::engine(format!("corrupt {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::engine(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Every network, by name. Needs the lock.
    pub fn networks(&self, lock: &Locked) -> Result<Vec<Network>> {
        let dir = self.state.dir().join("networks");
        let mut names: Vec<String> = match fs::read_dir(&dir) {
            Ok(d) => d
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".json")
                        .map(String::from)
                })
                .collect(),
            Err(_) => vec![],
        };
        names.sort();
        let mut nets = vec![];
        for name in names {
            nets.extend(self.network(lock, &name)?);
        }
        Ok(nets)
    }

    /// `network ls`.
    pub fn list_networks(&self) -> Result<Vec<Network>> {
        let lock = self.state.lock()?;
        self.networks(&lock)
    }

    // ANCHOR: create
    /// `network create NAME [--subnet CIDR]`: persist it, then bring it up.
    pub fn create_network(&self, name: &str, subnet: Option<Cidr>) -> Result<Network> {
        let options = CreateOptions {
            subnet,
            ..CreateOptions::default()
        };
        self.create_network_with(name, &options)
    }

    /// `network create` with every option: the subnet chosen or checked
    /// against the other networks and the host's routes, the gateway and
    /// the range checked inside it; nothing is made when one is wrong.
    pub fn create_network_with(&self, name: &str, options: &CreateOptions) -> Result<Network> {
        check_name(name)?;
        let lock = self.state.lock()?;
        if self.network(&lock, name)?.is_some() {
            return Err(Error::conflict(format!("network {name} already exists")));
        }
        // The host's routes are shared by every state root.
        let host = host_lock()?;
        let others = self.networks(&lock)?;
        let ours: Vec<String> = others.iter().map(|n| n.bridge.clone()).collect();
        let bridge = self.bridge_for(name, &ours);
        let routes = host_routes(&ours)?;
        let subnet = match options.subnet {
            Some(s) => {
                let s = s.subnet();
                if s.host_count() < 2 {
                    return Err(Error::invalid(format!(
                        "subnet {s} is too small for a gateway and a container"
                    )));
                }
                if let Some(n) = others.iter().find(|n| n.subnet.overlaps(&s)) {
                    return Err(Error::conflict(format!(
                        "subnet {s} overlaps network {} ({}): choose another --subnet",
                        n.name, n.subnet
                    )));
                }
                if let Some((r, dev)) = routes.iter().find(|(r, _)| r.overlaps(&s)) {
                    return Err(Error::conflict(format!(
                        "subnet {s} overlaps the host's route to {r} via {dev}: choose another --subnet"
                    )));
                }
                s
            }
            None => {
                if options.gateway.is_some() || options.ip_range.is_some() {
                    return Err(Error::invalid(
                        "--gateway and --ip-range need --subnet: give the subnet they belong to",
                    ));
                }
                let mut taken: Vec<Cidr> = routes.iter().map(|(r, _)| *r).collect();
                taken.extend(others.iter().map(|n| n.subnet));
                choose_subnet(&candidate_subnets(), &taken).ok_or_else(|| {
                    Error::engine("no free private subnet left: give one with --subnet")
                })?
            }
        };
        let (gateway, ip_range) = check_inside(subnet, options.gateway, options.ip_range)?;
        if !is_private(&subnet) {
            ch01_chroot::events::warning(format!(
                "warning: subnet {subnet} is not in a private (RFC 1918) range"
            ));
        }
        let network = Network {
            name: name.to_string(),
            bridge,
            subnet,
            gateway,
            id: ch04_overlay::id::new_id()?,
            ip_range,
            internal: options.internal,
            labels: options.labels.clone(),
        };
        let text = serde_json::to_string_pretty(&network).expect("network serialises");
        write_atomic(&self.network_path(name), text.as_bytes())?;
        // The bridge holds the subnet's route before the host lock goes
        // (the firewall's part takes that lock itself).
        let links = self.links_up(&network);
        drop(host);
        if let Err(e) = links.and_then(|()| self.up(&lock, &network)) {
            let _ = self.down(&lock, &network);
            let _ = fs::remove_file(self.network_path(name));
            return Err(e);
        }
        Ok(network)
    }
    // ANCHOR_END: create

    /// The default network, created on first use.
    pub fn default_network(&self) -> Result<Network> {
        {
            let lock = self.state.lock()?;
            if let Some(n) = self.network(&lock, DEFAULT_NETWORK)? {
                return Ok(n);
            }
        }
        match self.create_network(DEFAULT_NETWORK, None) {
            Err(e) if e.message.ends_with("already exists") => {
                let lock = self.state.lock()?;
                Ok(self.network(&lock, DEFAULT_NETWORK)?.expect("just created"))
            }
            other => other,
        }
    }

    // ANCHOR: up
    /// Brings a network up (idempotent): bridge and address, forwarding,
    /// route_localnet on the bridge, berth's chains and this network's rules,
    /// and the isolation rules between all berth bridges.
    pub fn up(&self, lock: &Locked, network: &Network) -> Result<()> {
        self.links_up(network)?;
        let bridges: Vec<String> = self.networks(lock)?.into_iter().map(|n| n.bridge).collect();
        self.firewall
            .ensure_network(&network.bridge_net(), &bridges)
    }

    /// What every attach makes sure of, without a process and without the
    /// lock: the bridge (netlink), forwarding and route_localnet (sysctl).
    pub fn links_up(&self, network: &Network) -> Result<()> {
        network.bridge().ensure()?;
        sysctl::enable_ip_forward()?;
        sysctl::enable_route_localnet(&network.bridge)
    }
    // ANCHOR_END: up

    /// Takes a network's bridge and rules down; the whole berth chain set
    /// goes with the last network.
    fn down(&self, lock: &Locked, network: &Network) -> Result<()> {
        self.firewall.remove_network(&network.bridge_net())?;
        network.bridge().delete()?;
        let remaining: Vec<Network> = self
            .networks(lock)?
            .into_iter()
            .filter(|n| n.name != network.name)
            .collect();
        if remaining.is_empty() {
            self.firewall.remove_all()
        } else {
            let bridges: Vec<String> = remaining.into_iter().map(|n| n.bridge).collect();
            self.firewall.set_isolation(&bridges)
        }
    }

    // ANCHOR: remove_network
    /// `network rm NAME`: the default network is never removed (other
    /// state roots and every `run` without `--network` stand on it, as on
    /// Docker's `bridge`), nor a network with endpoints.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        if name == DEFAULT_NETWORK {
            return Err(Error::invalid(format!(
                "{name} is the default network and cannot be removed"
            )));
        }
        self.delete_network(name)
    }

    /// Takes network `name` down and forgets it, the default one included
    /// (for cleaning a state root up), unless it has endpoints: a live
    /// allocation under this root, or any interface on its bridge (a
    /// container of another state root sharing the bridge).
    pub fn delete_network(&self, name: &str) -> Result<()> {
        let lock = self.state.lock()?;
        let network = self
            .network(&lock, name)?
            .ok_or_else(|| Error::not_found(format!("network {name} not found")))?;
        crate::sweep::reclaim_stale(self, &lock, &network)?;
        let allocs = ipam::load(&lock, &self.state, name)?;
        if let Some(a) = allocs.addresses.values().next() {
            return Err(Error::conflict(format!(
                "network {name} has active endpoints: container {} is attached: stop it first",
                a.container
            )));
        }
        let ports = crate::bridge::ports(&network.bridge)?;
        if let Some(port) = ports.first() {
            return Err(Error::conflict(format!(
                "network {name} has active endpoints: {port} is on its bridge {}",
                network.bridge
            )));
        }
        self.down(&lock, &network)?;
        crate::verified::Verified::new(&self.state, name, &self.firewall).forget();
        crate::resolver::forget(&lock, &self.state, name);
        fs::remove_file(self.network_path(name))
            .map_err(|e| Error::engine(format!("cannot remove network {name}: {e}")))
    }
    // ANCHOR_END: remove_network
}

/// `network ls`: one line per network, columns aligned.
pub fn table(networks: &[Network]) -> String {
    let rows: Vec<[String; 4]> = networks
        .iter()
        .map(|n| {
            [
                n.name.clone(),
                n.bridge.clone(),
                n.subnet.to_string(),
                n.gateway.to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "BRIDGE", "SUBNET", "GATEWAY"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            line.join("   ").trim_end().to_string() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn default_subnet_avoids_taken_ranges() {
        let all = candidate_subnets();
        assert_eq!(all[0], c("172.17.0.0/16"));
        assert_eq!(choose_subnet(&all, &[]), Some(c("172.17.0.0/16")));
        // docker0 and a VPN route on 172.18.5.0/24 push berth to 172.19.
        let taken = [c("172.17.0.0/16"), c("172.18.5.0/24"), c("192.0.2.0/24")];
        assert_eq!(choose_subnet(&all, &taken), Some(c("172.19.0.0/16")));
        // A host whose 172.16.0.0/12 is all in use gets a 192.168 /20.
        assert_eq!(
            choose_subnet(&all, &[c("172.16.0.0/12")]),
            Some(c("192.168.0.0/20"))
        );
        assert_eq!(choose_subnet(&all, &[c("0.0.0.0/0")]), None);
        assert!(all.iter().all(is_private));
    }

    #[test]
    fn names() {
        assert!(check_name("backend").is_ok());
        assert!(check_name("my_net.2").is_ok());
        assert!(check_name("-x").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("host").is_err());
        assert_eq!(bridge_name("backend"), "berth-backend");
        let long = bridge_name("a-very-long-network-name");
        assert!(long.starts_with("berth-") && long.len() == 14);
    }
}
