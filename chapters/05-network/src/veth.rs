//! The veth pair: a virtual cable with one end on the host bridge and the
//! other end, `eth0`, inside the container's network namespace.

use std::net::Ipv4Addr;

use crate::Result;
use crate::bridge::{Bridge, check_ifname, delete_link};
use crate::cidr::Cidr;
use crate::netlink::Rtnl;
use crate::netns::Netns;

/// The prefix of every host-side veth berth creates (`bv-1a2b3c4d`).
pub const HOST_PREFIX: &str = "bv-";
/// The name the container sees.
pub const CONTAINER_IFNAME: &str = "eth0";

/// The two ends of a veth pair, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethPair {
    /// The end that stays on the host and joins the bridge.
    pub host: String,
    /// The end in the container: `eth0`.
    pub peer: String,
}

/// Eight hex digits derived from a container id (FNV-1a), so names fit in 15 bytes.
pub fn short_id(id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// How many hex digits of a container id name its veth pair (`bv-` + 12 = 15 bytes, IFNAMSIZ - 1).
pub const ID_DIGITS: usize = 12;

impl VethPair {
    /// The pair's names for container `id`: `bv-` followed by the id's
    /// first 12 hex digits, and `eth0` (Docker's short id), so containers of
    /// the same name in two state roots never share a pair. An id that is
    /// not hex (a library caller's own label) is hashed to 8 hex digits.
    pub fn for_container(id: &str) -> VethPair {
        let hex =
            id.len() >= ID_DIGITS && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let short = if hex {
            id[..ID_DIGITS].to_string()
        } else {
            short_id(id)
        };
        VethPair {
            host: format!("{HOST_PREFIX}{short}"),
            peer: CONTAINER_IFNAME.to_string(),
        }
    }

    /// The pair of container `id`'s interface `peer` (`eth1`, ...) on
    /// network `network`: `eth0` keeps [`VethPair::for_container`]'s
    /// names; a further interface's host end is `bv-` and eight hex digits
    /// of the id and the network, so each of its networks has its own.
    pub fn for_interface(id: &str, network: &str, peer: &str) -> VethPair {
        if peer == CONTAINER_IFNAME {
            return VethPair::for_container(id);
        }
        VethPair {
            host: format!("{HOST_PREFIX}{}", short_id(&format!("{id}/{network}"))),
            peer: peer.to_string(),
        }
    }

    // ANCHOR: create
    /// `ip link add bv-X type veth peer name eth0 netns /proc/PID/ns/net`:
    /// the host end here, the other end born in the container as `eth0`,
    /// with the hardware address `mac` when given.
    pub fn create(&self, rtnl: &mut Rtnl, netns: &Netns, mac: Option<[u8; 6]>) -> Result<()> {
        check_ifname(&self.host)?;
        // An existing link of that name is someone else's: the request
        // fails (EEXIST), and nothing is deleted here.
        let path = netns.path().to_string_lossy().into_owned();
        rtnl.add_veth(&self.host, &self.peer, mac, netns.raw_fd(), &path)
    }

    /// `ip link set bv-X master berth0 up`: plug the host end into the
    /// bridge, in hairpin mode, so that a packet the host sends back out of
    /// the port it came in by gets through: the container reaching its own
    /// published port on the host's address.
    pub fn attach(&self, rtnl: &mut Rtnl, bridge: &Bridge) -> Result<()> {
        rtnl.set_master_up(&self.host, &bridge.name)?;
        rtnl.set_hairpin(&self.host)
    }
    // ANCHOR_END: create

    // ANCHOR: inside
    /// Inside the container, through a netlink socket opened there: `lo`
    /// up, `eth0`'s address, `eth0` up, and a default route through the
    /// bridge when `gateway` is given (not for an internal network, nor
    /// when another interface has the default route already).
    pub fn configure_inside(
        &self,
        netns: &Netns,
        address: Cidr,
        gateway: Option<Ipv4Addr>,
    ) -> Result<()> {
        let mut inside = Rtnl::open_in(netns)?;
        inside.set_up("lo")?;
        inside.add_address(&self.peer, address)?;
        inside.set_up(&self.peer)?;
        match gateway {
            Some(gateway) if !inside.has_default_route()? => {
                inside.add_default_route(gateway, &self.peer)
            }
            _ => Ok(()),
        }
    }
    // ANCHOR_END: inside

    /// `ip link del bv-X`: deleting one end deletes both. Missing is fine
    /// (the kernel removes the pair when the container's namespace dies).
    pub fn delete(&self) -> Result<()> {
        delete_link(&self.host)
    }
}

/// The first `ethN` not yet in `netns`: a container's next interface.
pub fn next_ifname(netns: &Netns) -> Result<String> {
    let names: Vec<String> = Rtnl::open_in(netns)?
        .links()?
        .into_iter()
        .map(|l| l.name)
        .collect();
    Ok((0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !names.contains(name))
        .expect("some ethN is free"))
}

/// The hardware address of the interface holding `ip`: `02:42` and the
/// address's four bytes, as Docker long did. Locally administered (the
/// 02 bit), unique per network as the address is, and readable from the
/// address alone, so `inspect` needs no look into the namespace.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:ac:12:00:02`.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// `ip link set lo up` inside `netns`: all a `--network none` container gets.
pub fn loopback_up(netns: &Netns) -> Result<()> {
    Rtnl::open_in(netns)?.set_up("lo")
}
