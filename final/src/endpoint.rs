//! The container's address as its own network namespace sees it, for
//! `inspect`: read from `/proc/PID/net` once it runs (chapter 5 chose and
//! configured it; the kernel's tables are the truth, not a copy of them).

use std::net::Ipv4Addr;

use crate::record::Endpoint;

/// The first non-loopback local address, the default gateway, and the
/// prefix length of the route to the address's subnet.
pub fn read(pid: u32, network: &str) -> Option<Endpoint> {
    let trie = std::fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).ok()?;
    let ip = local_address(&trie)?;
    let routes = std::fs::read_to_string(format!("/proc/{pid}/net/route")).ok()?;
    let (gateway, prefix_len) = gateway_and_prefix(&routes, ip);
    Some(Endpoint {
        network: network.to_string(),
        ip: ip.to_string(),
        gateway: gateway.map(|g| g.to_string()).unwrap_or_default(),
        prefix_len,
    })
}

/// `|-- 172.18.0.2` followed by `/32 host LOCAL`: an address of ours.
fn local_address(trie: &str) -> Option<Ipv4Addr> {
    let mut last: Option<Ipv4Addr> = None;
    for line in trie.lines() {
        let line = line.trim_start_matches([' ', '|', '+', '-']);
        if let Ok(ip) = line.trim().parse::<Ipv4Addr>() {
            last = Some(ip);
        } else if line.contains("/32 host LOCAL")
            && let Some(ip) = last.filter(|ip| !ip.is_loopback())
        {
            return Some(ip);
        }
    }
    None
}

/// From `/proc/net/route` (hex, host byte order): the default route's
/// gateway, and the mask of the on-link route containing `ip`.
fn gateway_and_prefix(routes: &str, ip: Ipv4Addr) -> (Option<Ipv4Addr>, u8) {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.swap_bytes()))
    };
    let mut gateway = None;
    let mut prefix = 0;
    for line in routes.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Some(dest), Some(gw), Some(mask)) = (hex(f[1]), hex(f[2]), hex(f[7])) else {
            continue;
        };
        if dest.is_unspecified() && mask.is_unspecified() {
            gateway = Some(gw);
        } else if gw.is_unspecified() && u32::from(ip) & u32::from(mask) == u32::from(dest) {
            prefix = u32::from(mask).count_ones() as u8;
        }
    }
    (gateway, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_tables() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 172.18.0.0/16 2 0 2\n        |-- 172.18.0.2\n           /32 host LOCAL\nLocal:\n  |-- 127.0.0.1\n     /32 host LOCAL\n";
        assert_eq!(local_address(trie), Some(Ipv4Addr::new(172, 18, 0, 2)));
        let routes = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let (gw, prefix) = gateway_and_prefix(routes, Ipv4Addr::new(172, 18, 0, 2));
        assert_eq!(gw, Some(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(prefix, 16);
    }
}
