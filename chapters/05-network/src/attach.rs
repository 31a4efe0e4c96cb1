//! The parent-side network step of the start sequence.
//!
//! After the parent has cloned the child into a new network namespace, and
//! while the child waits on the sync channel, the parent calls [`attach`]
//! with the child's pid. Everything, including the inside of the container's
//! namespace (`eth0`, its address, `lo`, the default route), is configured
//! from the parent through the namespace, so the child has no network step
//! of its own and its command starts with the network already up, as with
//! Docker. The returned [`Endpoint`] is held until the container exits;
//! [`Endpoint::detach`] (or dropping it) gives everything back.
//!
//! A container may be attached to several networks: each attach takes
//! the namespace's next free `ethN`. An engine attaching a running
//! container from a short-lived command keeps the endpoint
//! ([`Endpoint::keep`]) and takes it away again with [`disconnect`],
//! which works from the recorded allocation alone.
//!
//! On a user-defined network the container's names also go into the
//! network's name table, and the network's resolver is started if it is
//! not running (see [`crate::resolver`]).

use std::net::Ipv4Addr;

use crate::cidr::Cidr;
use crate::ipam::{self, Allocation, Owner};
use crate::mode::{NetworkMode, PortMapping};
use crate::netlink::Rtnl;
use crate::netns::Netns;
use crate::network::{DEFAULT_NETWORK, Host, Network};
use crate::verified::{Pending, Verified};
use crate::veth::{VethPair, loopback_up, mac_for, next_ifname};
use crate::{Error, Result, names, resolver, sweep};

/// What a container asks of the network.
#[derive(Debug, Clone)]
pub struct Request {
    /// The container's id: host-wide names (its veth pair) derive from it,
    /// never from its name, which another state root may use too.
    pub id: String,
    /// The container's name (unique within its state root), for messages
    /// and its allocation.
    pub container: String,
    pub mode: NetworkMode,
    /// `-p` mappings (bridge networks only).
    pub ports: Vec<PortMapping>,
    /// `--ip`: a fixed address in the network's subnet.
    pub ip: Option<Ipv4Addr>,
    /// `--network-alias`: more names of the container on this network,
    /// kept with its allocation (for name resolution).
    pub aliases: Vec<String>,
    /// The names other containers of a user-defined network find this one
    /// by: its name, its short id, its aliases ([`names::container_names`]).
    /// Empty: none (the default `bridge` network never resolves names).
    pub names: Vec<String>,
    /// `--dns`: where the network's resolver sends this container's other
    /// queries (empty: the host's resolvers).
    pub dns: Vec<Ipv4Addr>,
}

impl Request {
    /// A request whose id is its name (for callers with no store, whose
    /// names are unique host-wide); see [`Request::with_id`].
    pub fn new(container: &str, mode: NetworkMode) -> Request {
        Request::with_id(container, container, mode)
    }

    /// A request for the container with id `id` and name `container`.
    pub fn with_id(id: &str, container: &str, mode: NetworkMode) -> Request {
        Request {
            id: id.to_string(),
            container: container.to_string(),
            mode,
            ports: vec![],
            ip: None,
            aliases: vec![],
            names: vec![],
            dns: vec![],
        }
    }
}

/// A container's place on a bridge network.
#[derive(Debug)]
pub struct Attachment {
    pub host: Host,
    pub container: String,
    pub network: Network,
    /// The container's address with the subnet's prefix (`172.18.0.2/16`).
    pub address: Cidr,
    pub veth: VethPair,
    pub ports: Vec<PortMapping>,
    /// True once this attachment created its veth pair: only then is it
    /// its own to delete (a link of the same name may be someone else's).
    created: bool,
    /// True once its rules were added (so removing them is its own business).
    rules: bool,
    /// True once its names are in the network's table.
    named: bool,
    /// The network's resolver (its gateway), once it answers for this container.
    nameserver: Option<Ipv4Addr>,
    released: bool,
}

/// The result of the network step: what to undo when the container exits.
#[derive(Debug)]
pub enum Endpoint {
    /// `--network host`: nothing was done.
    Host,
    /// `--network none`: `lo` is up.
    None,
    Bridge(Box<Attachment>),
}

impl Endpoint {
    /// The container's address on its bridge network.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        match self {
            Endpoint::Bridge(a) => Some(a.address.addr),
            _ => None,
        }
    }

    /// Leaves the endpoint in place for as long as the container lives:
    /// `network connect` on a running container, from a command that
    /// exits. Its allocation is owned by the container's process, so the
    /// monitor's teardown or the next sweep gives it back.
    pub fn keep(self) {
        if let Endpoint::Bridge(mut a) = self {
            a.released = true;
        }
    }

    /// The resolver the container's `/etc/resolv.conf` names: its user-defined
    /// network's gateway, when that network resolves names.
    pub fn nameserver(&self) -> Option<Ipv4Addr> {
        match self {
            Endpoint::Bridge(a) => a.nameserver,
            _ => None,
        }
    }

    /// Gives the address, veth, published ports and names back.
    pub fn detach(self) -> Result<()> {
        match self {
            Endpoint::Bridge(mut a) => a.release(),
            _ => Ok(()),
        }
    }
}

// ANCHOR: attach
/// Connects the container whose process is `pid` as `request` asks.
pub fn attach(host: &Host, request: &Request, pid: i32) -> Result<Endpoint> {
    let network = match &request.mode {
        NetworkMode::Host => return Ok(Endpoint::Host),
        NetworkMode::None => {
            loopback_up(&Netns::from_pid(pid)?)?;
            return Ok(Endpoint::None);
        }
        NetworkMode::Bridge => host.default_network()?,
        NetworkMode::Named(name) => {
            let lock = host.state.lock()?;
            host.network(&lock, name)?.ok_or_else(|| {
                Error::not_found(format!(
                    "network {name} not found: create it with `network create {name} --subnet CIDR`"
                ))
            })?
        }
    };
    let netns = Netns::from_pid(pid)?;
    let owner = u32::try_from(pid)
        .ok()
        .and_then(Owner::of_pid)
        .ok_or_else(|| Error::engine(format!("process {pid} does not exist")))?;
    // eth0 for the first network, eth1 for the next, ...
    let ifname = next_ifname(&netns)?;
    let veth = VethPair::for_interface(&request.id, &network.name, &ifname);
    // The lock is held only to choose and record the address: the links
    // are named after this container's id and its rules are one
    // transaction, so the wiring needs no lock.
    let ip = {
        let lock = host.state.lock()?;
        // Leftovers of killed runs go first: their addresses and ports come back.
        sweep::reclaim_stale(host, &lock, &network)?;
        allocate(host, &lock, &network, request, owner, &veth)?
    };
    let address = network.subnet.with_addr(ip);
    let mut attachment = Attachment {
        host: host.clone(),
        container: request.container.clone(),
        network,
        address,
        veth,
        ports: request.ports.clone(),
        created: false,
        rules: false,
        named: false,
        nameserver: None,
        released: false,
    };
    // From here on, a failure releases what was done so far.
    let wired = attachment.wire(&netns);
    if let Err(e) = wired.and_then(|()| attachment.resolve(request, owner)) {
        let _ = attachment.release();
        return Err(e);
    }
    Ok(Endpoint::Bridge(Box::new(attachment)))
}
// ANCHOR_END: attach

/// Records the allocation under the lock, refusing a host port already published.
fn allocate(
    host: &Host,
    lock: &crate::lock::Locked,
    network: &Network,
    request: &Request,
    owner: Owner,
    veth: &VethPair,
) -> Result<Ipv4Addr> {
    for other in host.networks(lock)? {
        let allocs = ipam::load(lock, &host.state, &other.name)?;
        for a in allocs.addresses.values() {
            if a.container == request.container && other.name == network.name {
                return Err(Error::conflict(format!(
                    "container {} is already attached to network {}",
                    request.container, other.name
                )));
            }
            for p in &request.ports {
                if let Some(q) = a.ports.iter().find(|q| p.conflicts_with(q)) {
                    return Err(Error::conflict(format!(
                        "port {} is already published by container {} ({q})",
                        p.host_port, a.container
                    )));
                }
            }
        }
    }
    let mut allocs = ipam::load(lock, &host.state, &network.name)?;
    let ip = allocs.allocate_in(
        network.subnet,
        network.pool(),
        network.gateway,
        request.ip,
        Allocation {
            container: request.container.clone(),
            id: request.id.clone(),
            aliases: request.aliases.clone(),
            owner,
            host_veth: veth.host.clone(),
            ports: request.ports.clone(),
        },
    )?;
    ipam::save(lock, &host.state, &network.name, &allocs)?;
    Ok(ip)
}

impl Attachment {
    // ANCHOR: wire
    /// The links, and meanwhile the container's firewall batch: its
    /// process runs while the netlink requests are made.
    fn wire(&mut self, netns: &Netns) -> Result<()> {
        let verified = self.verified();
        let rules = self.start_rules(&verified);
        let links = self.links(netns);
        let rules = rules.and_then(|pending| self.finish_rules(&verified, pending));
        self.rules = rules.is_ok();
        links.and(rules)
    }

    fn links(&mut self, netns: &Netns) -> Result<()> {
        let bridge = self.network.bridge();
        self.host.links_up(&self.network)?;
        let mut rtnl = Rtnl::open()?;
        self.veth
            .create(&mut rtnl, netns, Some(mac_for(self.address.addr)))?;
        self.created = true;
        self.veth.attach(&mut rtnl, &bridge)?;
        // An internal network gives no default route: nowhere to go.
        let gateway = (!self.network.internal).then_some(self.network.gateway);
        self.veth.configure_inside(netns, self.address, gateway)
    }

    /// The container's rules in one transaction, which also checks the
    /// network's. While the ruleset is unchanged since the network's rules
    /// were seen whole, the checks are left out: a container without
    /// published ports then starts no process at all (None).
    fn start_rules<'v>(&self, verified: &'v Verified) -> Result<Option<Pending<'v>>> {
        let (firewall, ip) = (&self.host.firewall, self.address.addr);
        let net = self.network.bridge_net();
        let unchanged = verified.unchanged();
        if self.ports.is_empty() && unchanged {
            return Ok(None);
        }
        let tx = match unchanged {
            true => firewall.ports_transaction(&net.bridge, ip, &self.ports),
            false => firewall.container_transaction(&net, ip, &self.ports),
        };
        verified.start(&tx, !unchanged).map(Some)
    }

    /// Waits for the batch. If it failed (the network's rules are not
    /// there: never added, or flushed since), the network is brought up
    /// again (one read, one transaction) and the container's tried once
    /// more, with the checks. Each table of a batch is committed on its
    /// own, so a batch that failed in its second table may have added the
    /// container's rules of the first: those are taken out before the retry.
    fn finish_rules(&self, verified: &Verified, pending: Option<Pending>) -> Result<()> {
        let Some(pending) = pending else {
            return Ok(());
        };
        if pending.finish().is_ok() {
            return Ok(());
        }
        let (firewall, ip, bridge) = (&self.host.firewall, self.address.addr, &self.network.bridge);
        firewall.remove_container(bridge, ip, &self.ports)?;
        let lock = self.host.state.lock()?;
        self.host.up(&lock, &self.network)?;
        drop(lock);
        let tx = firewall.container_transaction(&self.network.bridge_net(), ip, &self.ports);
        verified.apply(&tx, true)
    }
    // ANCHOR_END: wire

    /// The generation at which this network's rules were last seen whole.
    fn verified(&self) -> Verified {
        Verified::new(&self.host.state, &self.network.name, &self.host.firewall)
    }

    // ANCHOR: resolve
    /// On a user-defined network, puts the container's `names` into the
    /// network's table and makes sure its resolver runs (the first
    /// container starts it), if the caller said how to start one. The
    /// default network keeps no names, as Docker's `bridge`.
    fn resolve(&mut self, request: &Request, owner: Owner) -> Result<()> {
        let names = &request.names;
        if self.network.name == DEFAULT_NETWORK || names.is_empty() {
            return Ok(());
        }
        let (state, network) = (&self.host.state, &self.network);
        let lock = state.lock()?;
        let mut table = names::load(&lock, state, &network.name)?;
        table.add(names::Entry {
            ip: self.address.addr,
            names: names.to_vec(),
            owner,
            upstreams: request.dns.clone(),
        });
        names::save(&lock, state, &network.name, &table)?;
        self.named = true;
        if let Some(launcher) = &self.host.resolver {
            resolver::ensure_running(&lock, state, network, launcher)?;
            self.nameserver = Some(network.gateway);
        }
        Ok(())
    }
    // ANCHOR_END: resolve

    /// The gateway (the bridge's address), for `/etc/hosts` and the book.
    pub fn gateway(&self) -> Ipv4Addr {
        self.network.gateway
    }

    /// Removes the port rules and the veth, then frees the address. Safe to
    /// call twice and after the container's namespace is gone.
    pub fn release(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        let mut first_error = None;
        if self.rules && !self.ports.is_empty() {
            let (firewall, ip) = (&self.host.firewall, self.address.addr);
            let tx = firewall.removal_transaction(&self.network.bridge, ip, &self.ports);
            // Exactly the rules it added; if some are gone already, those left.
            let removed = self
                .verified()
                .apply(&tx, false)
                .or_else(|_| firewall.remove_container(&self.network.bridge, ip, &self.ports));
            if let Err(e) = removed {
                first_error.get_or_insert(e);
            }
        }
        if self.created {
            if let Err(e) = self.veth.delete() {
                first_error.get_or_insert(e);
            }
        }
        let lock = self.host.state.lock()?;
        if self.named {
            // The name stops resolving now; the resolver, alone, exits.
            let removed = names::forget(
                &lock,
                &self.host.state,
                &self.network.name,
                self.address.addr,
            );
            if let Err(e) = removed {
                first_error.get_or_insert(e);
            }
        }
        let mut allocs = ipam::load(&lock, &self.host.state, &self.network.name)?;
        allocs.release(self.address.addr, &self.container);
        ipam::save(&lock, &self.host.state, &self.network.name, &allocs)?;
        self.released = true;
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            ch01_chroot::events::warning(format!(
                "warning: releasing the network of {}: {e}",
                self.container
            ));
        }
    }
}

// ANCHOR: disconnect
/// Takes container `container` off network `network`: its published-port
/// rules, its host veth (and with it the interface in the container) and
/// its address, as recorded in the allocation. `Ok(false)` when it was not
/// attached. For `network disconnect` on a running container, from any
/// command: the endpoint's [`Attachment`] lives in another process.
pub fn disconnect(host: &Host, network: &Network, container: &str) -> Result<bool> {
    let lock = host.state.lock()?;
    let mut allocs = ipam::load(&lock, &host.state, &network.name)?;
    let Some((ip, a)) = allocs
        .addresses
        .iter()
        .find(|(_, a)| a.container == container)
        .map(|(ip, a)| (*ip, a.clone()))
    else {
        return Ok(false);
    };
    host.firewall
        .remove_container(&network.bridge, ip, &a.ports)?;
    crate::bridge::delete_link(&a.host_veth)?;
    names::forget(&lock, &host.state, &network.name, ip)?;
    allocs.release(ip, container);
    ipam::save(&lock, &host.state, &network.name, &allocs)?;
    Ok(true)
}
// ANCHOR_END: disconnect

/// Where container `container` is attached under `host`: each network
/// with the address and the allocation (its id, aliases, ports).
pub fn endpoints_of(host: &Host, container: &str) -> Result<Vec<(Network, Ipv4Addr, Allocation)>> {
    let lock = host.state.lock()?;
    let mut found = vec![];
    for network in host.networks(&lock)? {
        let allocs = ipam::load(&lock, &host.state, &network.name)?;
        for (ip, a) in allocs.addresses {
            if a.container == container {
                found.push((network.clone(), ip, a));
            }
        }
    }
    Ok(found)
}
