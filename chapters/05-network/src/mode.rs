//! What a user asks for on the command line: `--network MODE` and `-p` mappings.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::{Error, Result};

/// `--network bridge|none|host|NAME`, as in `docker run`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// The default network: bridge `berth0`, a veth pair, NAT.
    #[default]
    Bridge,
    /// A new network namespace with only `lo`.
    None,
    /// The host's own network namespace: no isolation at all.
    Host,
    /// A network created with `network create NAME`.
    Named(String),
}

impl NetworkMode {
    /// False for `host`: the container shares the host's namespace.
    pub fn needs_new_netns(&self) -> bool {
        !matches!(self, NetworkMode::Host)
    }
}

impl FromStr for NetworkMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<NetworkMode> {
        Ok(match s {
            "bridge" | "default" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "" => {
                return Err(Error::invalid(
                    "--network needs a value: bridge, none, host or a network name",
                ));
            }
            name => NetworkMode::Named(name.to_string()),
        })
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Named(n) => f.write_str(n),
        }
    }
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `-p [IP:]HOST:CONTAINER[/tcp|/udp]`: traffic to the host's port goes to the container's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    /// Only traffic to this host address (all local addresses when None).
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl FromStr for PortMapping {
    type Err = Error;

    fn from_str(s: &str) -> Result<PortMapping> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid port mapping {s:?}: {why} (expected [IP:]HOST:CONTAINER[/tcp|/udp], e.g. 8080:80)"
            ))
        };
        let (spec, proto) = match s.rsplit_once('/') {
            Some((spec, "tcp")) => (spec, Proto::Tcp),
            Some((spec, "udp")) => (spec, Proto::Udp),
            Some(_) => return Err(bad("the protocol must be tcp or udp")),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (host_ip, host, container) = match parts.as_slice() {
            [host, container] => (None, *host, *container),
            [ip, host, container] => {
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| bad("the host address is not IPv4"))?;
                (Some(ip), *host, *container)
            }
            [_] => return Err(bad("give the host port too")),
            _ => return Err(bad("too many ':'")),
        };
        let port = |p: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad("ports are numbers from 1 to 65535")),
            Ok(n) => Ok(n),
        };
        Ok(PortMapping {
            host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
            host_port: port(host)?,
            container_port: port(container)?,
            proto,
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port, self.container_port, self.proto
        )
    }
}

/// An image's exposed port as its config names it: `80/tcp`, `53/udp`, `80`.
pub fn parse_exposed(key: &str) -> Option<(u16, Proto)> {
    let (port, proto) = match key.split_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some(_) => return None,
        None => (key, Proto::Tcp),
    };
    port.parse().ok().filter(|&p| p > 0).map(|p| (p, proto))
}

impl PortMapping {
    /// True when both mappings claim the same host port and protocol on a common address.
    pub fn conflicts_with(&self, other: &PortMapping) -> bool {
        self.host_port == other.host_port
            && self.proto == other.proto
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(
            "bridge".parse::<NetworkMode>().unwrap(),
            NetworkMode::Bridge
        );
        assert_eq!("none".parse::<NetworkMode>().unwrap(), NetworkMode::None);
        assert_eq!("host".parse::<NetworkMode>().unwrap(), NetworkMode::Host);
        assert_eq!(
            "backend".parse::<NetworkMode>().unwrap(),
            NetworkMode::Named("backend".into())
        );
        assert!(!NetworkMode::Host.needs_new_netns());
        assert!(NetworkMode::None.needs_new_netns());
    }

    #[test]
    fn port_mappings() {
        let p: PortMapping = "8080:80".parse().unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.container_port, p.proto),
            (None, 8080, 80, Proto::Tcp)
        );
        let p: PortMapping = "127.0.0.1:5353:53/udp".parse().unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(p.proto, Proto::Udp);
        assert_eq!(p.to_string(), "127.0.0.1:5353:53/udp");
        let p: PortMapping = "0.0.0.0:80:80".parse().unwrap();
        assert_eq!(p.host_ip, None);
        for bad in [
            "80",
            "0:80",
            "a:80",
            "1:2:3:4",
            "80:80/sctp",
            "::1:80:80",
            "70000:80",
        ] {
            assert!(bad.parse::<PortMapping>().is_err(), "{bad}");
        }
    }

    #[test]
    fn exposed_ports() {
        assert_eq!(parse_exposed("80/tcp"), Some((80, Proto::Tcp)));
        assert_eq!(parse_exposed("53/udp"), Some((53, Proto::Udp)));
        assert_eq!(parse_exposed("8080"), Some((8080, Proto::Tcp)));
        assert_eq!(parse_exposed("80/sctp"), None);
        assert_eq!(parse_exposed("0/tcp"), None);
    }

    #[test]
    fn port_conflicts() {
        let a: PortMapping = "8080:80".parse().unwrap();
        let b: PortMapping = "127.0.0.1:8080:81".parse().unwrap();
        let c: PortMapping = "8080:80/udp".parse().unwrap();
        let d: PortMapping = "10.0.0.1:8080:80".parse().unwrap();
        assert!(a.conflicts_with(&b));
        assert!(!a.conflicts_with(&c));
        assert!(!b.conflicts_with(&d));
    }
}
