//! IP address management: which container holds which address of a subnet.
//!
//! One JSON file per network under `<root>/network/ipam/`, read and written
//! only while the state root's lock is held, so two runs starting at the same
//! moment never get the same address. Each allocation names its owner by pid
//! and the pid's start time (chapter 4's [`Owner`]): when that process is
//! gone (even killed with SIGKILL, which runs no cleanup) the allocation is
//! stale and reclaimable.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ch04_overlay::atomic::write_atomic_volatile;
pub use ch04_overlay::owner::Owner;

use crate::cidr::Cidr;
use crate::lock::{Locked, StateRoot};
use crate::mode::PortMapping;
use crate::{Error, Result};

/// One address handed out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allocation {
    pub container: String,
    /// The container's id (empty in files written before it was kept).
    #[serde(default)]
    pub id: String,
    /// More names the container answers to on this network (`--network-alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub owner: Owner,
    /// The host end of the container's veth pair.
    pub host_veth: String,
    /// Its published ports (their rules are removed with the allocation).
    pub ports: Vec<PortMapping>,
}

/// The allocations of one network, as stored in its file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allocations {
    pub addresses: BTreeMap<Ipv4Addr, Allocation>,
}

// ANCHOR: allocate
impl Allocations {
    /// Picks an address for `alloc`: `wanted` if given and free, else the
    /// lowest free host address. The gateway (the bridge's own address),
    /// the network and the broadcast address are never handed out.
    pub fn allocate(
        &mut self,
        subnet: Cidr,
        gateway: Ipv4Addr,
        wanted: Option<Ipv4Addr>,
        alloc: Allocation,
    ) -> Result<Ipv4Addr> {
        self.allocate_in(subnet, subnet, gateway, wanted, alloc)
    }

    /// [`Allocations::allocate`], the lowest free address taken from
    /// `pool` (a network's `--ip-range`, inside its subnet); a wanted
    /// address may be anywhere in the subnet.
    pub fn allocate_in(
        &mut self,
        subnet: Cidr,
        pool: Cidr,
        gateway: Ipv4Addr,
        wanted: Option<Ipv4Addr>,
        alloc: Allocation,
    ) -> Result<Ipv4Addr> {
        let ip = match wanted {
            Some(ip) => {
                let usable = subnet.contains(ip)
                    && ip != subnet.network()
                    && ip != subnet.broadcast()
                    && ip != gateway;
                if !usable {
                    return Err(Error::invalid(format!(
                        "address {ip} is not a free host address of {}",
                        subnet.subnet()
                    )));
                }
                if let Some(holder) = self.addresses.get(&ip) {
                    return Err(Error::conflict(format!(
                        "address {ip} is already in use by container {}",
                        holder.container
                    )));
                }
                ip
            }
            None => (1..=pool.host_count() as u32)
                .filter_map(|n| pool.host(n))
                .find(|ip| {
                    *ip != gateway
                        && *ip != subnet.network()
                        && *ip != subnet.broadcast()
                        && !self.addresses.contains_key(ip)
                })
                .ok_or_else(|| {
                    Error::engine(format!("no free address left in {}", pool.subnet()))
                })?,
        };
        self.addresses.insert(ip, alloc);
        Ok(ip)
    }
    // ANCHOR_END: allocate

    /// Frees `ip` if `container` holds it; returns what was freed.
    pub fn release(&mut self, ip: Ipv4Addr, container: &str) -> Option<Allocation> {
        if self
            .addresses
            .get(&ip)
            .is_some_and(|a| a.container == container)
        {
            self.addresses.remove(&ip)
        } else {
            None
        }
    }

    /// Removes and returns the allocations whose owner `is_alive` says is gone.
    pub fn take_stale(&mut self, is_alive: impl Fn(&Owner) -> bool) -> Vec<(Ipv4Addr, Allocation)> {
        let stale: Vec<Ipv4Addr> = self
            .addresses
            .iter()
            .filter(|(_, a)| !is_alive(&a.owner))
            .map(|(ip, _)| *ip)
            .collect();
        stale
            .into_iter()
            .filter_map(|ip| self.addresses.remove(&ip).map(|a| (ip, a)))
            .collect()
    }
}

/// The file of a network's allocations.
pub fn path(root: &StateRoot, network: &str) -> PathBuf {
    root.dir().join("ipam").join(format!("{network}.json"))
}

/// Reads a network's allocations (empty when none were made). Needs the lock.
pub fn load(_lock: &Locked, root: &StateRoot, network: &str) -> Result<Allocations> {
    let path = path(root, network);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::engine(format!("corrupt {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Allocations::default()),
        Err(e) => Err(Error::engine(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes a network's allocations back (removing the file when empty). Needs the lock.
pub fn save(_lock: &Locked, root: &StateRoot, network: &str, allocs: &Allocations) -> Result<()> {
    let path = path(root, network);
    if allocs.addresses.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::engine(format!(
                "cannot remove {}: {e}",
                path.display()
            ))),
            _ => Ok(()),
        };
    }
    let text = serde_json::to_string_pretty(allocs).expect("allocations serialise");
    // Not flushed to disk: after a reboot every owner is gone and every
    // allocation stale anyway.
    write_atomic_volatile(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(name: &str, pid: u32) -> Allocation {
        Allocation {
            container: name.into(),
            id: String::new(),
            aliases: vec![],
            owner: Owner {
                pid,
                start: Some(1),
            },
            host_veth: format!("bv-{name}"),
            ports: vec![],
        }
    }

    fn subnet() -> (Cidr, Ipv4Addr) {
        ("10.9.0.0/29".parse().unwrap(), Ipv4Addr::new(10, 9, 0, 1))
    }

    #[test]
    fn lowest_free_address_skipping_the_gateway() {
        let (net, gw) = subnet();
        let mut a = Allocations::default();
        let first = a.allocate(net, gw, None, alloc("a", 1)).unwrap();
        let second = a.allocate(net, gw, None, alloc("b", 2)).unwrap();
        assert_eq!(first, Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(second, Ipv4Addr::new(10, 9, 0, 3));
        assert_eq!(a.release(first, "a").unwrap().container, "a");
        assert_eq!(a.allocate(net, gw, None, alloc("c", 3)).unwrap(), first);
    }

    #[test]
    fn exhaustion_and_wanted_addresses() {
        let (net, gw) = subnet();
        let mut a = Allocations::default();
        // a /29 has 6 host addresses; one is the gateway.
        for i in 0..5 {
            a.allocate(net, gw, None, alloc(&format!("c{i}"), i))
                .unwrap();
        }
        let err = a.allocate(net, gw, None, alloc("x", 9)).unwrap_err();
        assert_eq!(err.message, "no free address left in 10.9.0.0/29");
        let mut b = Allocations::default();
        assert!(b.allocate(net, gw, Some(gw), alloc("x", 9)).is_err());
        assert!(
            b.allocate(net, gw, Some(Ipv4Addr::new(10, 9, 0, 7)), alloc("x", 9))
                .is_err()
        );
        assert!(
            b.allocate(net, gw, Some(Ipv4Addr::new(10, 9, 1, 2)), alloc("x", 9))
                .is_err()
        );
        let wanted = Ipv4Addr::new(10, 9, 0, 5);
        assert_eq!(
            b.allocate(net, gw, Some(wanted), alloc("x", 9)).unwrap(),
            wanted
        );
        let err = b
            .allocate(net, gw, Some(wanted), alloc("y", 9))
            .unwrap_err();
        assert_eq!(
            err.message,
            "address 10.9.0.5 is already in use by container x"
        );
    }

    #[test]
    fn release_only_by_the_holder() {
        let (net, gw) = subnet();
        let mut a = Allocations::default();
        let ip = a.allocate(net, gw, None, alloc("a", 1)).unwrap();
        assert!(a.release(ip, "b").is_none());
        assert!(a.release(ip, "a").is_some());
        assert!(a.addresses.is_empty());
    }

    #[test]
    fn stale_allocations_are_taken() {
        let (net, gw) = subnet();
        let mut a = Allocations::default();
        a.allocate(net, gw, None, alloc("dead", 100)).unwrap();
        a.allocate(net, gw, None, alloc("live", 200)).unwrap();
        let stale = a.take_stale(|o| o.pid == 200);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].1.container, "dead");
        assert_eq!(a.addresses.len(), 1);
    }

    #[test]
    fn files_written_before_owners_were_chapter_4s_still_read() {
        // The owner as chapter 5 wrote it on its own: pid and start time.
        let old = r#"{"addresses": {"10.9.0.2": {"container": "a",
            "owner": {"pid": 42, "start_time": 7}, "host_veth": "bv-a", "ports": []}}}"#;
        let allocs: Allocations = serde_json::from_str(old).unwrap();
        let owner = allocs.addresses[&Ipv4Addr::new(10, 9, 0, 2)].owner;
        assert_eq!(
            owner,
            Owner {
                pid: 42,
                start: Some(7)
            }
        );
        let text = serde_json::to_string(&allocs).unwrap();
        assert!(
            text.contains(r#""owner":{"pid":42,"start_time":7}"#),
            "{text}"
        );
    }
}
