//! `network connect` and `network disconnect`. A running container gets
//! (or loses) an interface in its namespace now, through chapter 5; every
//! container's record keeps its networks, so its next start joins them.

use std::net::Ipv4Addr;

use ch05_network::attach::{self, Request};
use ch05_network::network::{DEFAULT_NETWORK, Network};

use super::{check_ip, find, host, mode_of};
use crate::context::Engine;
use crate::record::{self, Connection, Record};
use crate::{Error, Result};

/// The networks of a record written before the record kept them: its
/// `--network` mode says.
pub fn recorded(record: &Record) -> Vec<Connection> {
    if let Some(networks) = &record.networks {
        return networks.clone();
    }
    match record.host.network_mode.as_str() {
        "none" | "host" => vec![],
        mode => vec![Connection {
            network: if mode == "default" {
                DEFAULT_NETWORK
            } else {
                mode
            }
            .to_string(),
            ..Connection::default()
        }],
    }
}

// ANCHOR: connect
/// `network connect [--ip] [--alias] NETWORK CONTAINER`.
pub fn connect(
    engine: &Engine,
    network: &str,
    container: &str,
    ip: Option<Ipv4Addr>,
    aliases: Vec<String>,
) -> Result<()> {
    let host = host(engine)?;
    let network = find(&host, network)?;
    if let Some(ip) = ip {
        check_ip(&network, ip)?;
    }
    if network.name == DEFAULT_NETWORK && !aliases.is_empty() {
        return Err(super::default_has_no_aliases());
    }
    for alias in &aliases {
        ch02_namespaces::hostname::check_hostname(alias)
            .map_err(|e| Error::invalid(format!("invalid --alias {alias:?}: {}", e.message)))?;
    }
    let found = crate::lookup::find(engine, container)?;
    let dir = &found.container.dir;
    let _lock = record::lock(dir)?;
    let mut record = Record::read(dir)?
        .ok_or_else(|| Error::not_found(format!("no container record in {}", dir.display())))?;
    if matches!(record.host.network_mode.as_str(), "none" | "host") {
        return Err(Error::invalid(format!(
            "container {} runs with --network {}: it cannot join other networks (create it with --network {})",
            record.name, record.host.network_mode, network.name
        )));
    }
    let mut networks = recorded(&record);
    if networks.iter().any(|c| c.network == network.name) {
        return Err(Error::conflict(format!(
            "container {} is already connected to network {}",
            record.name, network.name
        )));
    }
    // Running: a new interface now (eth1, ...), owned by the container's
    // process, so it goes when the container does.
    if let Some(pid) = record.live_pid().filter(|_| record.is_active()) {
        let request = Request {
            id: record.id.clone(),
            container: record.name.clone(),
            mode: mode_of(&network.name),
            ports: vec![],
            ip,
            aliases: aliases.clone(),
            names: ch05_network::names::container_names(&record.name, &record.id, &aliases),
            // (Its queries go to its first network's resolver, which has them.)
            dns: vec![],
        };
        attach::attach(&host, &request, pid.as_raw())?.keep();
    }
    networks.push(Connection {
        network: network.name.clone(),
        ip,
        aliases,
    });
    record.networks = Some(networks);
    record.save(dir)
}
// ANCHOR_END: connect

/// `network disconnect [-f] NETWORK CONTAINER`; `-f` also takes a gone
/// container's endpoint away, and says nothing when there is none.
pub fn disconnect(engine: &Engine, network: &str, container: &str, force: bool) -> Result<()> {
    let host = host(engine)?;
    let network = find(&host, network)?;
    let found = match crate::lookup::find(engine, container) {
        Ok(found) => found,
        Err(_) if force => {
            attach::disconnect(&host, &network, container)?;
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let dir = &found.container.dir;
    let _lock = record::lock(dir)?;
    let mut record = Record::read(dir)?
        .ok_or_else(|| Error::not_found(format!("no container record in {}", dir.display())))?;
    let mut networks = recorded(&record);
    let before = networks.len();
    networks.retain(|c| c.network != network.name);
    let released = attach::disconnect(&host, &network, &record.name)?;
    if before == networks.len() && !released && !force {
        return Err(Error::conflict(format!(
            "container {} is not connected to network {}",
            record.name, network.name
        )));
    }
    record.networks = Some(networks);
    record.save(dir)
}

/// Every endpoint the container still holds under the engine's root
/// (those `network connect` added while it ran): given back when it exits.
pub fn release_all(engine: &Engine, container: &str) {
    let Ok(host) = host(engine) else { return };
    let Ok(endpoints) = attach::endpoints_of(&host, container) else {
        return;
    };
    for (network, _, _) in endpoints {
        if let Err(e) = attach::disconnect(&host, &network, container) {
            ch01_chroot::events::warning(format!(
                "warning: releasing network {} of {container}: {e}",
                network.name
            ));
        }
    }
}

/// `inspect`'s `NetworkSettings.Networks`: each network the container
/// joins, with its address while it runs (from chapter 5's allocations).
pub fn settings(engine: &Engine, record: &Record) -> serde_json::Value {
    let live: Vec<(Network, Ipv4Addr, ch05_network::ipam::Allocation)> = host(engine)
        .and_then(|h| attach::endpoints_of(&h, &record.name))
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    let mut names: Vec<String> = recorded(record).into_iter().map(|c| c.network).collect();
    for (network, _, _) in &live {
        if !names.contains(&network.name) {
            names.push(network.name.clone());
        }
    }
    for name in names {
        let connection = recorded(record).into_iter().find(|c| c.network == name);
        let endpoint = live.iter().find(|(n, _, _)| n.name == name);
        let (ip, gateway, prefix, id, mac) = match endpoint {
            Some((n, ip, _)) => (
                ip.to_string(),
                n.gateway.to_string(),
                n.subnet.prefix,
                n.id.clone(),
                ch05_network::veth::mac_text(ch05_network::veth::mac_for(*ip)),
            ),
            None => (
                String::new(),
                String::new(),
                0,
                network_id(engine, &name),
                String::new(),
            ),
        };
        let aliases = connection.map(|c| c.aliases).unwrap_or_default();
        out.insert(
            name,
            serde_json::json!({
                "NetworkID": id,
                "IPAddress": ip,
                "Gateway": gateway,
                "IPPrefixLen": prefix,
                "MacAddress": mac,
                "Aliases": aliases,
            }),
        );
    }
    serde_json::Value::Object(out)
}

fn network_id(engine: &Engine, name: &str) -> String {
    host(engine)
        .and_then(|h| find(&h, name))
        .map(|n| n.id)
        .unwrap_or_default()
}
