//! IPv4 subnets in CIDR notation (`172.18.0.0/16`) and the arithmetic on them.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::{Error, Result};

/// An IPv4 address with a prefix length: a subnet, or a host address in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

// ANCHOR: math
impl Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Cidr> {
        if prefix > 32 {
            return Err(Error::invalid(format!("invalid prefix length /{prefix}")));
        }
        Ok(Cidr { addr, prefix })
    }

    /// The netmask: `prefix` one-bits followed by zeros (/16 is 255.255.0.0).
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// The first address of the subnet (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The last address of the subnet (host bits set), reserved for broadcast.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// The subnet itself: this address with its host bits cleared.
    pub fn subnet(&self) -> Cidr {
        Cidr {
            addr: self.network(),
            prefix: self.prefix,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// True when the two subnets share at least one address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The `n`th address after the network address, if it is a usable host
    /// address (neither the network nor the broadcast address).
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - self.prefix as u64);
        if n == 0 || (n as u64) >= size - 1 {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.network()) + n))
    }

    /// The gateway: by convention the first host address (the bridge's own).
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.host(1)
    }

    /// How many host addresses the subnet holds.
    pub fn host_count(&self) -> u64 {
        (1u64 << (32 - self.prefix as u64)).saturating_sub(2)
    }

    /// The same address with another prefix: `gateway/16` for `ip addr add`.
    pub fn with_addr(&self, addr: Ipv4Addr) -> Cidr {
        Cidr {
            addr,
            prefix: self.prefix,
        }
    }
}
// ANCHOR_END: math

impl FromStr for Cidr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cidr> {
        let bad = || Error::invalid(format!("invalid subnet {s:?}: expected A.B.C.D/N"));
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message))
    }
}

/// The private ranges of RFC 1918: addresses no one routes on the internet.
pub const PRIVATE_RANGES: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// True when the whole subnet lies inside one of the RFC 1918 ranges.
pub fn is_private(subnet: &Cidr) -> bool {
    PRIVATE_RANGES.iter().any(|r| {
        let range: Cidr = r.parse().expect("constant");
        range.contains(subnet.network()) && range.contains(subnet.broadcast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(c("172.18.0.0/16").to_string(), "172.18.0.0/16");
        let bad = "172.18.0.0".parse::<Cidr>().unwrap_err();
        assert_eq!(bad.kind, ch01_chroot::error::ErrorKind::InvalidInput);
        assert!("172.18.0.0/33".parse::<Cidr>().is_err());
        assert!("300.1.1.1/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn network_broadcast_mask() {
        let net = c("172.18.5.9/16");
        assert_eq!(net.mask(), 0xffff_0000);
        assert_eq!(net.network(), Ipv4Addr::new(172, 18, 0, 0));
        assert_eq!(net.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(net.subnet(), c("172.18.0.0/16"));
        assert_eq!(c("0.0.0.0/0").mask(), 0);
        assert_eq!(c("10.0.0.1/32").broadcast(), Ipv4Addr::new(10, 0, 0, 1));
    }

    #[test]
    fn hosts_exclude_network_and_broadcast() {
        let net = c("10.1.2.0/30");
        assert_eq!(net.host(0), None);
        assert_eq!(net.host(1), Some(Ipv4Addr::new(10, 1, 2, 1)));
        assert_eq!(net.host(2), Some(Ipv4Addr::new(10, 1, 2, 2)));
        assert_eq!(net.host(3), None);
        assert_eq!(net.host_count(), 2);
        assert_eq!(net.gateway(), Some(Ipv4Addr::new(10, 1, 2, 1)));
        assert_eq!(c("172.18.0.0/16").host_count(), 65534);
    }

    #[test]
    fn overlap_and_containment() {
        assert!(c("172.18.0.0/16").overlaps(&c("172.18.3.0/24")));
        assert!(c("172.18.3.0/24").overlaps(&c("172.18.0.0/16")));
        assert!(!c("172.18.0.0/16").overlaps(&c("172.19.0.0/16")));
        assert!(c("0.0.0.0/0").overlaps(&c("10.0.0.0/8")));
        assert!(c("10.0.0.0/8").contains(Ipv4Addr::new(10, 255, 1, 1)));
        assert!(!c("10.0.0.0/8").contains(Ipv4Addr::new(11, 0, 0, 1)));
    }

    #[test]
    fn private_ranges() {
        assert!(is_private(&c("172.18.0.0/16")));
        assert!(is_private(&c("192.168.10.0/24")));
        assert!(!is_private(&c("172.32.0.0/16")));
        assert!(!is_private(&c("198.18.0.0/15")));
        assert!(!is_private(&c("10.0.0.0/7")));
    }
}
