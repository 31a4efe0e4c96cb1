//! Chapter 5's `run` options, flattened by later chapters' binaries.

use std::net::Ipv4Addr;
use std::path::Path;

use ch01_chroot::cli::report_each;
use clap::{Args, Subcommand};

use crate::Error;
use crate::cidr::Cidr;
use crate::mode::{NetworkMode, PortMapping};
use crate::network;
use crate::resolver::Launcher;
use crate::run::NetworkOptions;
use crate::run::host_for;

// ANCHOR: network_args
/// How the container is connected, as `docker run` spells it.
#[derive(Args, Debug, Clone, Default)]
pub struct NetworkArgs {
    /// Connect to a network: bridge (the default, berth0), none (only lo),
    /// host (the host's own), or NAME (made with `network create`).
    #[arg(long = "network", alias = "net", value_name = "NETWORK", value_parser = parse_mode)]
    pub network: Option<NetworkMode>,
    /// Publish a container port on the host: [IP:]HOST:CONTAINER[/tcp|/udp] (repeatable).
    #[arg(short = 'p', long = "publish", value_name = "PORTS", value_parser = parse_port)]
    pub publish: Vec<PortMapping>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// A fixed IPv4 address in the network's subnet.
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<Ipv4Addr>,
    /// Another name of the container on its network (repeatable).
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS", value_parser = parse_alias)]
    pub network_alias: Vec<String>,
    /// A nameserver for /etc/resolv.conf instead of the host's (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub dns: Vec<Ipv4Addr>,
    /// An extra line for /etc/hosts: NAME:IP (repeatable).
    #[arg(long = "add-host", value_name = "NAME:IP", value_parser = parse_host)]
    pub add_host: Vec<(String, Ipv4Addr)>,
}
// ANCHOR_END: network_args

impl NetworkArgs {
    /// The options chapter 5's `run` takes.
    pub fn options(&self) -> NetworkOptions {
        NetworkOptions {
            mode: self.network.clone().unwrap_or_default(),
            ports: self.publish.clone(),
            publish_all: self.publish_all,
            ip: self.ip,
            aliases: self.network_alias.clone(),
            also: vec![],
            dns: self.dns.clone(),
            extra_hosts: self.add_host.clone(),
            resolver: None,
        }
    }
}

fn parse_mode(text: &str) -> Result<NetworkMode, String> {
    let mode: NetworkMode = text.parse().map_err(|e: Error| e.message)?;
    if let NetworkMode::Named(name) = &mode {
        crate::network::check_name(name).map_err(|e| e.message)?;
    }
    Ok(mode)
}

fn parse_alias(text: &str) -> Result<String, String> {
    ch02_namespaces::hostname::check_hostname(text)
        .map(|()| text.to_string())
        .map_err(|e| format!("invalid --network-alias {text:?}: {}", e.message))
}

fn parse_port(text: &str) -> Result<PortMapping, String> {
    text.parse().map_err(|e: Error| e.message)
}

fn parse_host(text: &str) -> Result<(String, Ipv4Addr), String> {
    let (name, ip) = text
        .split_once(':')
        .ok_or_else(|| format!("invalid --add-host {text:?}: expected NAME:IP"))?;
    let ip = ip
        .parse()
        .map_err(|_| format!("invalid --add-host {text:?}: {ip:?} is not an IPv4 address"))?;
    ch02_namespaces::hostname::check_hostname(name)
        .map_err(|e| format!("invalid --add-host {text:?}: {}", e.message))?;
    Ok((name.to_string(), ip))
}

/// `network create|ls|rm`, the subcommands of every binary from chapter 5 on.
#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network: a bridge, a subnet, and its NAT and isolation rules.
    Create {
        name: String,
        /// The subnet in CIDR notation [default: a free private /16 or /20].
        #[arg(long, value_name = "CIDR")]
        subnet: Option<Cidr>,
    },
    /// List networks.
    Ls,
    /// Remove networks (refused while a container uses one).
    Rm {
        #[arg(required = true, value_name = "NETWORK")]
        names: Vec<String>,
    },
}

// ANCHOR: launcher
/// How the binaries from chapter 5 on start a user-defined network's
/// resolver: themselves again, `EXE --root ROOT __resolver NETWORK`.
/// `/proc/self/exe` is the running program even when it runs from a sealed
/// copy with no path (chapter 7) or was replaced on disk since.
pub fn resolver_launcher(root: &Path) -> Launcher {
    Launcher {
        program: "/proc/self/exe".into(),
        args: vec!["--root".into(), root.into(), "__resolver".into()],
    }
}

/// The hidden `__resolver NETWORK` command of those binaries.
pub fn run_resolver(root: &Path, network: &str) -> Result<i32, Error> {
    crate::serve::main(&host_for(root)?, network)?;
    Ok(0)
}
// ANCHOR_END: launcher

/// Reclaims what killed runs left on the networks of state root `root`
/// (their addresses and published-port rules): every command does it first.
pub fn reclaim(root: &Path) -> Result<(), Error> {
    crate::sweep::reclaim_root(&host_for(root)?).map(|_| ())
}

/// `ls`: chapter 4's, after reclaiming dead runs' network leftovers.
pub fn list_containers(root: &Path) -> Result<i32, Error> {
    reclaim(root)?;
    ch04_overlay::cli::list_containers(root)
}

/// `rm`: chapter 4's, after reclaiming dead runs' network leftovers, so a
/// killed run's published ports and address go with its container.
pub fn remove_containers(root: &Path, keys: Vec<String>) -> Result<i32, Error> {
    reclaim(root)?;
    ch04_overlay::cli::remove_containers(root, keys)
}

impl NetworkCommand {
    /// Carries the command out on the networks of state root `root`.
    pub fn execute(self, root: &Path) -> Result<i32, Error> {
        let host = host_for(root)?;
        crate::sweep::reclaim_root(&host)?;
        match self {
            NetworkCommand::Create { name, subnet } => {
                println!("{}", host.create_network(&name, subnet)?.name);
                Ok(0)
            }
            NetworkCommand::Ls => {
                print!("{}", network::table(&host.list_networks()?));
                Ok(0)
            }
            NetworkCommand::Rm { names } => Ok(report_each(
                names
                    .into_iter()
                    .map(|name| host.remove_network(&name).map(|()| name)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        network: NetworkArgs,
    }

    #[test]
    fn docker_spellings() {
        let cli = Cli::try_parse_from([
            "x",
            "-p",
            "8080:80",
            "--publish",
            "127.0.0.1:5353:53/udp",
            "--network",
            "backend",
            "--ip",
            "172.20.0.9",
            "--dns",
            "192.0.2.53",
            "--add-host",
            "db:192.0.2.7",
        ])
        .unwrap();
        let o = cli.network.options();
        assert_eq!(o.mode, NetworkMode::Named("backend".into()));
        assert_eq!(o.ports.len(), 2);
        assert_eq!(o.ip, Some(Ipv4Addr::new(172, 20, 0, 9)));
        assert_eq!(o.dns, [Ipv4Addr::new(192, 0, 2, 53)]);
        assert_eq!(
            o.extra_hosts,
            [("db".to_string(), Ipv4Addr::new(192, 0, 2, 7))]
        );
        let none = Cli::try_parse_from(["x"]).unwrap().network.options();
        assert_eq!(none.mode, NetworkMode::Bridge);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["x", "-p", "80"][..],
            &["x", "--network", "a b"],
            &["x", "--ip", "300.1.1.1"],
            &["x", "--add-host", "db"],
            &["x", "--add-host", "db\n6.6.6.6 evil:192.0.2.7"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
