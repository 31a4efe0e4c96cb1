//! Leftovers of killed runs: found and removed by the next run and by `cargo lab clean`.
//!
//! A container killed with SIGKILL (or an engine killed half-way) runs no
//! cleanup. The kernel removes the veth pair with the container's network
//! namespace; what remains is berth's own bookkeeping: the allocation of a
//! dead pid, the published-port rules recorded with it, a veth pair that
//! never reached its namespace, and chains with no network left.

use std::path::PathBuf;

use crate::bridge::delete_link;
use crate::cmd::ip_json;
use crate::iptables::{self, Firewall};
use crate::lock::Locked;
use crate::network::{Host, Network};
use crate::veth::HOST_PREFIX;
use crate::{Result, ipam, names};

// ANCHOR: reclaim
/// Frees the allocations of `network` whose owner is dead, with their
/// published-port rules, host veth and names. Returns one line per
/// reclaimed address.
pub fn reclaim_stale(host: &Host, lock: &Locked, network: &Network) -> Result<Vec<String>> {
    let mut allocs = ipam::load(lock, &host.state, &network.name)?;
    let stale = allocs.take_stale(|owner| owner.is_alive());
    let mut report = vec![];
    for (ip, a) in &stale {
        host.firewall
            .remove_container(&network.bridge, *ip, &a.ports)?;
        delete_link(&a.host_veth)?;
        report.push(format!(
            "reclaimed {ip} of network {} from container {} (pid {} is gone)",
            network.name, a.container, a.owner.pid
        ));
    }
    if !stale.is_empty() {
        ipam::save(lock, &host.state, &network.name, &allocs)?;
    }
    // Their names stop resolving (the resolver skips them already).
    names::remove_dead(lock, &host.state, &network.name)?;
    Ok(report)
}
// ANCHOR_END: reclaim

// ANCHOR: reclaim_root
/// What every command does first: [`reclaim_stale`] on each network of the
/// state root, so a killed run's address, published-port rules (DNAT,
/// FORWARD, hairpin MASQUERADE), host veth and half-written state file go
/// with the next `rm`, `ls`, `run` or `network` command, whichever comes
/// first. Only this root's own records are touched: chains and unmoved
/// veths may belong to another state root sharing the host, and are left
/// to [`sweep`].
pub fn reclaim_root(host: &Host) -> Result<Vec<String>> {
    if !host.state.dir().exists() {
        return Ok(vec![]);
    }
    let lock = host.state.lock()?;
    host.state.remove_stale_temporaries(&lock);
    let mut report = vec![];
    for network in host.networks(&lock)? {
        report.extend(reclaim_stale(host, &lock, &network)?);
    }
    Ok(report)
}
// ANCHOR_END: reclaim_root

/// Host ends of berth veth pairs whose other end never left this namespace.
pub fn unmoved_veths() -> Result<Vec<String>> {
    Ok(crate::netlink::Rtnl::open()?
        .links()?
        .into_iter()
        .filter(|l| l.kind == "veth" && !l.peer_elsewhere && l.name.starts_with(HOST_PREFIX))
        .map(|l| l.name)
        .collect())
}

/// The whole sweep for one state root: stale allocations of every network,
/// unmoved veth pairs no live allocation holds, and the chain set when no
/// network remains.
pub fn sweep(host: &Host) -> Result<Vec<String>> {
    if !host.state.dir().exists() {
        // Nothing was ever attached under this root: only unmoved pairs can be left.
        return remove_unmoved(&[]);
    }
    let lock = host.state.lock()?;
    let mut report = vec![];
    let networks = host.networks(&lock)?;
    let mut held = vec![];
    for network in &networks {
        report.extend(reclaim_stale(host, &lock, network)?);
        let allocs = ipam::load(&lock, &host.state, &network.name)?;
        held.extend(allocs.addresses.into_values().map(|a| a.host_veth));
    }
    report.extend(remove_unmoved(&held)?);
    if networks.is_empty() && host.firewall.installed()? {
        host.firewall.remove_all()?;
        report.push(format!("removed chains {}-*", host.firewall.prefix));
    }
    Ok(report)
}

/// Deletes unmoved berth veth pairs except those in `held`.
fn remove_unmoved(held: &[String]) -> Result<Vec<String>> {
    let mut report = vec![];
    for veth in unmoved_veths()? {
        if !held.contains(&veth) {
            delete_link(&veth)?;
            report.push(format!("removed veth {veth} (never reached a container)"));
        }
    }
    Ok(report)
}

/// The bridges of the networks kept under `roots` (real installations'
/// state roots, untagged).
fn kept_bridges(roots: &[PathBuf]) -> Result<Vec<String>> {
    let mut kept = vec![];
    for root in roots {
        let host = Host::new(root);
        if host.state.dir().exists() {
            let lock = host.state.lock()?;
            kept.extend(host.networks(&lock)?.into_iter().map(|n| n.bridge));
        }
    }
    Ok(kept)
}

/// Removes every network of `host` (their bridges, rules and files) after
/// reclaiming dead runs' addresses; a network a live container uses stays.
pub fn remove_networks(host: &Host) -> Result<Vec<String>> {
    let mut report = sweep(host)?;
    for network in host.list_networks()? {
        match host.delete_network(&network.name) {
            Ok(()) => report.push(format!(
                "removed network {} (bridge {})",
                network.name, network.bridge
            )),
            Err(e) => report.push(format!("kept network {}: {e}", network.name)),
        }
    }
    Ok(report)
}

/// `cargo lab clean`: the sweep of each of `roots`, then what test runs
/// may have left: network namespaces named `berth-*`, berth bridges with no
/// port and no network in `roots`, and the chains of test prefixes
/// (`BERTHT*`); a running test's own (named after its pid) are left alone.
pub fn clean_host(roots: &[PathBuf]) -> Result<Vec<String>> {
    let mut report = vec![];
    for root in roots {
        report.extend(sweep(&Host::new(root))?);
    }
    if let Ok(entries) = std::fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("berth-") && !owned_by_live_test(&name, "berth-test-") {
                crate::cmd::ip(&["netns", "del", &name])?;
                report.push(format!("removed network namespace {name}"));
            }
        }
    }
    let kept = kept_bridges(roots)?;
    let bridges = ip_json(&["link", "show", "type", "bridge"])?;
    for name in bridges
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["ifname"].as_str())
    {
        if !name.starts_with("berth")
            || kept.iter().any(|k| k == name)
            || owned_by_live_test(name, "berth-t")
        {
            continue;
        }
        let ports = ip_json(&["link", "show", "master", name])?;
        if ports.as_array().is_none_or(|p| p.is_empty()) {
            delete_link(name)?;
            report.push(format!("removed bridge {name}"));
        }
    }
    for prefix in iptables::prefixes_present("BERTHT")? {
        if owned_by_live_test(&prefix, "BERTHT") {
            continue;
        }
        Firewall::with_prefix(&prefix)?.remove_all()?;
        report.push(format!("removed chains {prefix}-*"));
    }
    Ok(report)
}

/// True when `name` (after `prefix`) starts with the pid of a running
/// process: test resources carry their test process's pid (`berth-test-PID-...`,
/// `berth-tPID`, `BERTHTPID`), so a concurrent run's are not leftovers.
fn owned_by_live_test(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits
        .parse::<u32>()
        .is_ok_and(ch04_overlay::owner::process_alive)
}

/// What berth networking left on this host, without removing anything:
/// `berth-*` network namespaces, berth bridges, unattached berth veths and
/// `BERTH*` chains, except the networks of `roots` (real installations')
/// and what running test processes are using.
/// `cargo lab test` fails when the suite leaves any of these behind.
pub fn leftovers(roots: &[PathBuf]) -> Result<Vec<String>> {
    let kept = kept_bridges(roots)?;
    let default_prefix = Firewall::default().prefix;
    let mut found = vec![];
    if let Ok(entries) = std::fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("berth-") && !owned_by_live_test(&name, "berth-test-") {
                found.push(format!("network namespace {name}"));
            }
        }
    }
    let links = ip_json(&["link", "show"])?;
    for link in links.as_array().into_iter().flatten() {
        let name = link["ifname"].as_str().unwrap_or("");
        let stray_bridge = name.starts_with("berth")
            && !kept.iter().any(|k| k == name)
            && !owned_by_live_test(name, "berth-t");
        let stray_veth = name.starts_with(HOST_PREFIX)
            && link.get("master").is_none()
            && link.get("link_netnsid").is_none();
        if stray_bridge || stray_veth {
            found.push(format!("link {name}"));
        }
    }
    for prefix in iptables::prefixes_present("BERTH")? {
        let kept_chains = prefix == default_prefix && !kept.is_empty();
        if !kept_chains && !owned_by_live_test(&prefix, "BERTHT") {
            found.push(format!("iptables chains {prefix}-*"));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_resources_name_their_process() {
        let me = std::process::id();
        assert!(owned_by_live_test(
            &format!("berth-test-{me}-3-host"),
            "berth-test-"
        ));
        assert!(owned_by_live_test(&format!("BERTHT{me}"), "BERTHT"));
        assert!(!owned_by_live_test(
            "berth-test-2147483647-0-host",
            "berth-test-"
        ));
        assert!(!owned_by_live_test("berth0", "berth-t"));
        assert!(!owned_by_live_test("berth-backend", "berth-t"));
    }
}
