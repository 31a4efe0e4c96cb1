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

    // ANCHOR: create
    /// `ip link add bv-X type veth peer name eth0 netns /proc/PID/ns/net`:
    /// the host end here, the other end born in the container as `eth0`.
    pub fn create(&self, rtnl: &mut Rtnl, netns: &Netns) -> Result<()> {
        check_ifname(&self.host)?;
        // An existing link of that name is someone else's: the request
        // fails (EEXIST), and nothing is deleted here.
        let path = netns.path().to_string_lossy().into_owned();
        rtnl.add_veth(&self.host, &self.peer, netns.raw_fd(), &path)
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
    /// up, `eth0`'s address, `eth0` up, and a default route through the bridge.
    pub fn configure_inside(&self, netns: &Netns, address: Cidr, gateway: Ipv4Addr) -> Result<()> {
        let mut inside = Rtnl::open_in(netns)?;
        inside.set_up("lo")?;
        inside.add_address(&self.peer, address)?;
        inside.set_up(&self.peer)?;
        inside.add_default_route(gateway, &self.peer)
    }
    // ANCHOR_END: inside

    /// `ip link del bv-X`: deleting one end deletes both. Missing is fine
    /// (the kernel removes the pair when the container's namespace dies).
    pub fn delete(&self) -> Result<()> {
        delete_link(&self.host)
    }
}

/// `ip link set lo up` inside `netns`: all a `--network none` container gets.
pub fn loopback_up(netns: &Netns) -> Result<()> {
    Rtnl::open_in(netns)?.set_up("lo")
}
