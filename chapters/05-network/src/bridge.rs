//! The host bridge: a virtual switch every container's veth plugs into.
//!
//! Docker calls its default one `docker0`; berth's is `berth0`. The bridge
//! holds the subnet's first address, which the containers use as their
//! gateway.

use crate::cidr::Cidr;
use crate::netlink::Rtnl;
use crate::{Error, Result};

/// The default bridge's name.
pub const DEFAULT_BRIDGE: &str = "berth0";

/// A bridge and the address it holds (`172.18.0.1/16`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    /// The gateway address with the subnet's prefix length.
    pub address: Cidr,
}

/// Interface names are at most 15 bytes (IFNAMSIZ - 1) and cannot hold `/`,
/// whitespace or `:`.
pub fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::engine(format!(
            "invalid interface name {name:?}: use at most 15 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// True when a link called `name` exists in the caller's namespace.
pub fn link_exists(name: &str) -> Result<bool> {
    Ok(Rtnl::open()?.link(name)?.is_some())
}

impl Bridge {
    pub fn new(name: &str, address: Cidr) -> Result<Bridge> {
        check_ifname(name)?;
        Ok(Bridge {
            name: name.to_string(),
            address,
        })
    }

    // ANCHOR: ensure
    /// Creates the bridge if missing, gives it its address, brings it up.
    /// Safe to call again: one look at the link and its addresses, and
    /// only what is missing is done.
    pub fn ensure(&self) -> Result<()> {
        let name = self.name.as_str();
        let mut rtnl = Rtnl::open()?;
        let link = match rtnl.link(name)? {
            Some(link) => link,
            None => {
                // ip link add berth0 type bridge (a concurrent run may win)
                let added = rtnl.add_bridge(name);
                match rtnl.link(name)? {
                    Some(link) => link,
                    None => {
                        return Err(added.err().unwrap_or_else(|| {
                            Error::engine(format!("bridge {name} vanished as it was created"))
                        }));
                    }
                }
            }
        };
        if link.kind != "bridge" {
            return Err(Error::engine(format!(
                "{name} exists and is not a bridge: remove it or choose another name"
            )));
        }
        if !rtnl.addresses(name)?.contains(&self.address) {
            // ip addr add 172.18.0.1/16 dev berth0 (a concurrent run may win)
            let added = rtnl.add_address(name, self.address);
            if !rtnl.addresses(name)?.contains(&self.address) {
                added?;
            }
        }
        if !link.up {
            // ip link set berth0 up
            rtnl.set_up(name)?;
        }
        Ok(())
    }
    // ANCHOR_END: ensure

    /// The link's kind (`bridge`, `veth`, ...), or None when it does not exist.
    pub fn kind(&self) -> Result<Option<String>> {
        link_kind(&self.name)
    }

    /// The IPv4 addresses on the bridge.
    pub fn addresses(&self) -> Result<Vec<Cidr>> {
        Rtnl::open()?.addresses(&self.name)
    }

    /// Deletes the bridge (its ports are detached by the kernel). Missing is fine.
    pub fn delete(&self) -> Result<()> {
        delete_link(&self.name)
    }
}

/// The kind of link `name` (`ip -d link show NAME`), None when it does not exist.
pub fn link_kind(name: &str) -> Result<Option<String>> {
    Ok(Rtnl::open()?.link(name)?.map(|l| l.kind))
}

/// `ip link del NAME`, tolerating a link that is already gone.
pub fn delete_link(name: &str) -> Result<()> {
    Rtnl::open()?.delete_link(name)
}

/// The interfaces attached to bridge `name` (`ip link show master NAME`),
/// whatever state root attached them; none when the bridge does not exist.
pub fn ports(name: &str) -> Result<Vec<String>> {
    let mut rtnl = Rtnl::open()?;
    let Some(bridge) = rtnl.link(name)? else {
        return Ok(vec![]);
    };
    Ok(rtnl
        .links()?
        .into_iter()
        .filter(|l| l.master == Some(bridge.index))
        .map(|l| l.name)
        .collect())
}
