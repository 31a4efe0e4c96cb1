//! `network create|ls|inspect|rm|prune|connect|disconnect`: chapter 5's
//! named networks behind Docker's commands, and which networks each
//! container joins ([`apply`], [`connections`]). One module per verb.

pub mod connect;
pub mod create;
pub mod inspect;
pub mod list;
pub mod remove;

use std::net::Ipv4Addr;

use ch05_network::mode::NetworkMode;
use ch05_network::network::{DEFAULT_NETWORK, Host, Network};
use ch05_network::run::NetworkOptions;
use clap::{Args, Subcommand};

use crate::context::Engine;
use crate::record::{Connection, Record};
use crate::{Error, Result};

/// `berth network ...`.
#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network: a bridge, a subnet, its NAT and isolation rules.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Print networks as JSON.
    Inspect {
        /// A Go template such as '{{.IPAM.Config}}'.
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
    /// Remove networks (refused while a container is attached).
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
    /// Remove every network no container is attached to.
    Prune {
        /// Do not ask (berth never asks).
        #[arg(short, long)]
        force: bool,
    },
    /// Connect a container to a network (a running one gets a new interface).
    Connect {
        /// A fixed IPv4 address in the network's subnet.
        #[arg(long, value_name = "ADDR")]
        ip: Option<Ipv4Addr>,
        /// Another name of the container on this network (repeatable).
        #[arg(long = "alias", value_name = "ALIAS")]
        aliases: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        /// Also when the container is gone or not connected.
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    /// The driver: berth has `bridge`.
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// The subnet in CIDR notation [default: a free private /16 or /20].
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// The bridge's address [default: the subnet's first].
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<String>,
    /// Give containers addresses from this part of the subnet.
    #[arg(long = "ip-range", value_name = "CIDR")]
    pub ip_range: Option<String>,
    /// No way out of the network (and none in).
    #[arg(long)]
    pub internal: bool,
    /// Set a label, KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    pub name: String,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// name=TEXT, id=PREFIX, driver=bridge, label=KEY[=VALUE] (repeatable).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Do not truncate the ids.
    #[arg(long)]
    pub no_trunc: bool,
}

/// The network state of the engine's root.
pub fn host(engine: &Engine) -> Result<Host> {
    let mut host = ch05_network::run::host_for(&engine.root)?;
    host.resolver = Some(resolver_launcher(engine));
    Ok(host)
}

/// A user-defined network's resolver is `berth __resolver NETWORK`.
pub fn resolver_launcher(engine: &Engine) -> ch05_network::resolver::Launcher {
    ch05_network::resolver::Launcher {
        program: engine.exe.clone(),
        args: vec![
            "--root".into(),
            engine.root.clone().into(),
            "--run-dir".into(),
            engine.run_dir.clone().into(),
            "__resolver".into(),
        ],
    }
}

/// The network called `key`, or whose id starts with `key`.
pub fn find(host: &Host, key: &str) -> Result<Network> {
    let networks = host.list_networks()?;
    if let Some(n) = networks.iter().find(|n| n.name == key) {
        return Ok(n.clone());
    }
    let by_id: Vec<&Network> = networks
        .iter()
        .filter(|n| !n.id.is_empty() && !key.is_empty() && n.id.starts_with(key))
        .collect();
    match by_id.as_slice() {
        [one] => Ok((*one).clone()),
        [] if key == DEFAULT_NETWORK => host.default_network(),
        [] => Err(Error::not_found(format!(
            "network {key} not found: see `berth network ls`, or create it with `berth network create {key}`"
        ))),
        _ => Err(Error::invalid(format!(
            "network id prefix {key} is ambiguous: give more of it"
        ))),
    }
}

// ANCHOR: connections
/// At `create`: the networks of `run --network/--ip/--network-alias`,
/// checked now (a named network must exist, an address must be in its
/// subnet), for the record.
pub fn connections(engine: &Engine, options: &NetworkOptions) -> Result<Vec<Connection>> {
    let name = match &options.mode {
        NetworkMode::None | NetworkMode::Host => return Ok(vec![]),
        NetworkMode::Bridge if !options.aliases.is_empty() => {
            return Err(default_has_no_aliases());
        }
        NetworkMode::Bridge => DEFAULT_NETWORK.to_string(),
        NetworkMode::Named(name) => {
            let network = find(&host(engine)?, name)?;
            if let Some(ip) = options.ip {
                check_ip(&network, ip)?;
            }
            network.name
        }
    };
    Ok(vec![Connection {
        network: name,
        ip: options.ip,
        aliases: options.aliases.clone(),
    }])
}

/// As Docker: names on the default network are not resolved, so it takes no aliases.
pub fn default_has_no_aliases() -> Error {
    Error::invalid(
        "network aliases need a user-defined network: create one with `berth network create NAME` and use --network NAME",
    )
}

/// `--ip` must be a host address of the network's subnet, not its gateway.
pub fn check_ip(network: &Network, ip: Ipv4Addr) -> Result<()> {
    let s = network.subnet.subnet();
    if !s.contains(ip) || ip == s.network() || ip == s.broadcast() || ip == network.gateway {
        return Err(Error::invalid(format!(
            "address {ip} is not a host address of network {} ({s}): choose one inside it",
            network.name
        )));
    }
    Ok(())
}

/// At every start: the record's networks become chapter 5's options, the
/// first as `--network`, the others as more interfaces.
pub fn apply(record: &Record, options: &mut NetworkOptions) {
    options.publish_all = false;
    let Some(networks) = &record.networks else {
        return;
    };
    if !options.mode.needs_new_netns() {
        return;
    }
    let Some((first, rest)) = networks.split_first() else {
        // Disconnected from every network: only `lo`, as Docker.
        options.mode = NetworkMode::None;
        options.ports.clear();
        options.ip = None;
        options.aliases.clear();
        return;
    };
    options.mode = mode_of(&first.network);
    options.ip = first.ip;
    options.aliases = first.aliases.clone();
    options.also = rest.to_vec();
}
// ANCHOR_END: connections

/// `bridge` is the default network; any other name a named one.
pub fn mode_of(network: &str) -> NetworkMode {
    if network == DEFAULT_NETWORK {
        NetworkMode::Bridge
    } else {
        NetworkMode::Named(network.to_string())
    }
}

/// `port`: Docker's `80/tcp -> 0.0.0.0:32768`, one line per published port.
pub fn port_lines(ports: &[String]) -> Vec<String> {
    ports
        .iter()
        .filter_map(|p| p.parse::<ch05_network::mode::PortMapping>().ok())
        .map(|p| {
            let ip = p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            format!("{}/{} -> {ip}:{}", p.container_port, p.proto, p.host_port)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lines_as_docker() {
        let ports = [
            "8080:80/tcp".to_string(),
            "127.0.0.1:5353:53/udp".to_string(),
        ];
        assert_eq!(
            port_lines(&ports),
            ["80/tcp -> 0.0.0.0:8080", "53/udp -> 127.0.0.1:5353"]
        );
    }
}
