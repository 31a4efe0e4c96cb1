//! The host bridge: a virtual switch every container's veth plugs into.
//!
//! Docker calls its default one `docker0`; berth's is `berth0`. The bridge
//! holds the subnet's first address, which the containers use as their
//! gateway.

use crate::cidr::Cidr;
use crate::cmd::{ip, ip_json};
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
    let links = ip_json(&["link", "show"])?;
    Ok(links
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x["ifname"] == name)))
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
    /// Safe to call again: each step first checks what is already there.
    pub fn ensure(&self) -> Result<()> {
        let name = self.name.as_str();
        if !link_exists(name)? {
            // ip link add berth0 type bridge
            if let Err(e) = ip(&["link", "add", name, "type", "bridge"]) {
                if !link_exists(name)? {
                    return Err(e);
                }
            }
        }
        if self.kind()?.as_deref() != Some("bridge") {
            return Err(Error::engine(format!(
                "{name} exists and is not a bridge: remove it or choose another name"
            )));
        }
        let address = self.address.to_string();
        if !self.addresses()?.contains(&self.address) {
            // ip addr add 172.18.0.1/16 dev berth0
            ip(&["addr", "add", &address, "dev", name])?;
        }
        // ip link set berth0 up
        ip(&["link", "set", name, "up"])?;
        Ok(())
    }
    // ANCHOR_END: ensure

    /// The link's kind (`bridge`, `veth`, ...), or None when it does not exist.
    pub fn kind(&self) -> Result<Option<String>> {
        link_kind(&self.name)
    }

    /// The IPv4 addresses on the bridge.
    pub fn addresses(&self) -> Result<Vec<Cidr>> {
        let info = ip_json(&["-4", "addr", "show", "dev", &self.name])?;
        let mut found = vec![];
        for link in info.as_array().into_iter().flatten() {
            for a in link["addr_info"].as_array().into_iter().flatten() {
                if let (Some(local), Some(prefix)) = (a["local"].as_str(), a["prefixlen"].as_u64())
                {
                    found.extend(format!("{local}/{prefix}").parse::<Cidr>());
                }
            }
        }
        Ok(found)
    }

    /// Deletes the bridge (its ports are detached by the kernel). Missing is fine.
    pub fn delete(&self) -> Result<()> {
        delete_link(&self.name)
    }
}

/// The kind of link `name` (`ip -d link show`), None when it does not exist.
pub fn link_kind(name: &str) -> Result<Option<String>> {
    let links = ip_json(&["-d", "link", "show"])?;
    Ok(links.as_array().and_then(|l| {
        l.iter().find(|x| x["ifname"] == name).map(|x| {
            x["linkinfo"]["info_kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    }))
}

/// `ip link del NAME`, tolerating a link that is already gone.
pub fn delete_link(name: &str) -> Result<()> {
    match ip(&["link", "del", name]) {
        Err(e) if link_exists(name)? => Err(e),
        _ => Ok(()),
    }
}

/// The interfaces attached to bridge `name` (`ip link show master NAME`),
/// whatever state root attached them; none when the bridge does not exist.
pub fn ports(name: &str) -> Result<Vec<String>> {
    if !link_exists(name)? {
        return Ok(vec![]);
    }
    let links = ip_json(&["link", "show", "master", name])?;
    Ok(links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["ifname"].as_str().map(String::from))
        .collect())
}
