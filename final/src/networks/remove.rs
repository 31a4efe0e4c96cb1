//! `network rm` and `network prune`: chapter 5 takes a network down
//! (bridge, rules, file) unless a container is attached to it.

use ch05_network::network::DEFAULT_NETWORK;

use super::{find, host};
use crate::context::Engine;
use crate::{Error, Result};

/// Removes one network, by name or id; returns its name.
pub fn remove_one(engine: &Engine, key: &str) -> Result<String> {
    let host = host(engine)?;
    let network = find(&host, key)?;
    let name = &network.name;
    if name == DEFAULT_NETWORK {
        return Err(Error::invalid(format!(
            "{name} is the default network and cannot be removed"
        )));
    }
    let attached: Vec<String> = {
        let lock = host.state.lock()?;
        ch05_network::ipam::load(&lock, &host.state, name)?
            .addresses
            .into_values()
            .map(|a| a.container)
            .collect()
    };
    if let Some(first) = attached.first() {
        return Err(Error::conflict(format!(
            "network {name} has active endpoints ({}): stop them or `berth network disconnect {name} {first}` first",
            attached.join(", ")
        )));
    }
    host.remove_network(name)?;
    Ok(name.clone())
}

/// Every network but the default one that no container uses (attached
/// now, or recorded to join it at its next start); returns the names removed.
pub fn prune(engine: &Engine) -> Result<Vec<String>> {
    let host = host(engine)?;
    let (containers, _) = crate::lookup::all(engine)?;
    let recorded: Vec<String> = containers
        .iter()
        .flat_map(|f| f.record.networks.iter().flatten())
        .map(|c| c.network.clone())
        .collect();
    let mut removed = Vec::new();
    for network in host.list_networks()? {
        if network.name == DEFAULT_NETWORK || recorded.contains(&network.name) {
            continue;
        }
        // One with endpoints is refused by chapter 5: in use, kept.
        if host.remove_network(&network.name).is_ok() {
            removed.push(network.name);
        }
    }
    Ok(removed)
}
