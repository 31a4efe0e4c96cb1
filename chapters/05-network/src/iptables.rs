//! Packet filtering and NAT with the `iptables` binary (nf_tables backend), as Docker does.
//!
//! Every rule berth adds lives in a chain berth owns (`BERTH-POSTROUTING`,
//! `BERTH-FORWARD`, ...). The built-in chains get one jump each, added once,
//! so the whole set can be listed (`iptables -t nat -S BERTH-POSTROUTING`)
//! and removed without touching anyone else's rules.
//!
//! Rules are generated as data by pure functions (unit-tested, shown in the
//! book) and applied with `iptables -C` (is it there?) then `-A`/`-I`, so
//! adding twice is harmless and removal is `-D` of the same rule.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::cidr::Cidr;
use crate::cmd::{output, run, succeeds};
use crate::mode::PortMapping;
use crate::{Error, Result};

/// The chain prefix berth uses unless told otherwise.
pub const DEFAULT_PREFIX: &str = "BERTH";

/// One rule: `iptables -t TABLE -A CHAIN ARGS...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub table: &'static str,
    pub chain: String,
    pub args: Vec<String>,
}

impl Rule {
    fn new(table: &'static str, chain: impl Into<String>, args: &str) -> Rule {
        Rule {
            table,
            chain: chain.into(),
            args: args.split_whitespace().map(String::from).collect(),
        }
    }

    /// As `iptables -S` prints it (and as a reader types it, after `iptables -t TABLE`).
    pub fn spec(&self) -> String {
        format!(
            "-t {} -A {} {}",
            self.table,
            self.chain,
            self.args.join(" ")
        )
    }
}

/// The berth chains of one prefix, and the rules that fill them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firewall {
    pub prefix: String,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall {
            prefix: DEFAULT_PREFIX.into(),
        }
    }
}

/// The bridge-level facts the network rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeNet {
    pub bridge: String,
    pub subnet: Cidr,
}

impl Firewall {
    /// A firewall whose chains are `PREFIX-POSTROUTING`, `PREFIX-FORWARD`, ...
    /// (tests use their own prefix so they never share chains).
    pub fn with_prefix(prefix: &str) -> Result<Firewall> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 16
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Error::engine(format!(
                "invalid chain prefix {prefix:?}: at most 16 letters, digits or '_'"
            )));
        }
        Ok(Firewall {
            prefix: prefix.into(),
        })
    }

    pub fn chain(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Every berth chain: (table, chain).
    pub fn chains(&self) -> Vec<(&'static str, String)> {
        vec![
            ("nat", self.chain("PREROUTING")),
            ("nat", self.chain("OUTPUT")),
            ("nat", self.chain("POSTROUTING")),
            ("filter", self.chain("FORWARD")),
            ("filter", self.chain("ISOLATION-1")),
            ("filter", self.chain("ISOLATION-2")),
            ("filter", self.chain("INPUT")),
        ]
    }

    // ANCHOR: hooks
    /// The jumps from the built-in chains into berth's, inserted first.
    pub fn hooks(&self) -> Vec<Rule> {
        vec![
            // Packets arriving for one of the host's own addresses...
            Rule::new(
                "nat",
                "PREROUTING",
                &format!(
                    "-m addrtype --dst-type LOCAL -j {}",
                    self.chain("PREROUTING")
                ),
            ),
            // ...and the host's own packets to its own addresses (127.0.0.1 included).
            Rule::new(
                "nat",
                "OUTPUT",
                &format!("-m addrtype --dst-type LOCAL -j {}", self.chain("OUTPUT")),
            ),
            Rule::new(
                "nat",
                "POSTROUTING",
                &format!("-j {}", self.chain("POSTROUTING")),
            ),
            Rule::new(
                "filter",
                "FORWARD",
                &format!("-j {}", self.chain("FORWARD")),
            ),
            Rule::new("filter", "INPUT", &format!("-j {}", self.chain("INPUT"))),
        ]
    }
    // ANCHOR_END: hooks

    /// The first rule of BERTH-FORWARD: isolation is checked before any accept.
    pub fn base_rules(&self) -> Vec<Rule> {
        vec![Rule::new(
            "filter",
            self.chain("FORWARD"),
            &format!("-j {}", self.chain("ISOLATION-1")),
        )]
    }

    // ANCHOR: network_rules
    /// What one bridge network needs: masquerade on the way out, forwarding
    /// accepted (for hosts whose FORWARD policy is DROP), and no way for a
    /// container to reach the host's 127.0.0.1 through route_localnet.
    pub fn network_rules(&self, net: &BridgeNet) -> Vec<Rule> {
        let (br, subnet) = (&net.bridge, net.subnet.subnet());
        let post = self.chain("POSTROUTING");
        let fwd = self.chain("FORWARD");
        vec![
            // NAPT: packets from the subnet leaving by another interface take the host's address.
            Rule::new(
                "nat",
                &post,
                &format!("-s {subnet} ! -o {br} -j MASQUERADE"),
            ),
            // The host's own 127.0.0.1 → published port: the container must answer the bridge.
            Rule::new(
                "nat",
                &post,
                &format!("-s 127.0.0.0/8 -o {br} -j MASQUERADE"),
            ),
            Rule::new(
                "filter",
                &fwd,
                &format!("-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            ),
            Rule::new("filter", &fwd, &format!("-i {br} ! -o {br} -j ACCEPT")),
            Rule::new("filter", &fwd, &format!("-i {br} -o {br} -j ACCEPT")),
            Rule::new(
                "filter",
                self.chain("INPUT"),
                &format!(
                    "-i {br} -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
                ),
            ),
        ]
    }
    // ANCHOR_END: network_rules

    // ANCHOR: isolation_rules
    /// Docker's two-stage isolation: a packet that entered from one berth
    /// bridge and leaves by a different one (stage 1) is dropped if that
    /// other interface is a berth bridge too (stage 2).
    pub fn isolation_rules(&self, bridges: &[String]) -> Vec<Rule> {
        let stage2 = self.chain("ISOLATION-2");
        let mut rules: Vec<Rule> = bridges
            .iter()
            .map(|br| {
                Rule::new(
                    "filter",
                    self.chain("ISOLATION-1"),
                    &format!("-i {br} ! -o {br} -j {stage2}"),
                )
            })
            .collect();
        rules.extend(
            bridges
                .iter()
                .map(|br| Rule::new("filter", &stage2, &format!("-o {br} -j DROP"))),
        );
        rules
    }
    // ANCHOR_END: isolation_rules

    // ANCHOR: port_rules
    /// A published port: DNAT for packets arriving from elsewhere
    /// (PREROUTING) and for the host's own (OUTPUT), the forward accept,
    /// and a masquerade so a container reaching its own published port
    /// (hairpin) gets the answer back through the host.
    pub fn port_rules(
        &self,
        bridge: &str,
        container_ip: Ipv4Addr,
        port: &PortMapping,
    ) -> Vec<Rule> {
        let proto = port.proto;
        let dst = port
            .host_ip
            .map(|ip| format!("-d {ip}/32 "))
            .unwrap_or_default();
        let (hp, cp) = (port.host_port, port.container_port);
        let dnat = format!(
            "{dst}-p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {container_ip}:{cp}"
        );
        vec![
            Rule::new("nat", self.chain("PREROUTING"), &dnat),
            Rule::new("nat", self.chain("OUTPUT"), &dnat),
            Rule::new(
                "nat",
                self.chain("POSTROUTING"),
                &format!(
                    "-s {container_ip}/32 -d {container_ip}/32 -p {proto} -m {proto} --dport {cp} -j MASQUERADE"
                ),
            ),
            Rule::new(
                "filter",
                self.chain("FORWARD"),
                &format!(
                    "-d {container_ip}/32 ! -i {bridge} -o {bridge} -p {proto} -m {proto} --dport {cp} -j ACCEPT"
                ),
            ),
        ]
    }
    // ANCHOR_END: port_rules
}

fn iptables() -> Command {
    let mut cmd = Command::new("iptables");
    // The legacy backend's lock; the nf_tables backend ignores it.
    cmd.arg("-w");
    cmd
}

/// True when `iptables -t TABLE -C CHAIN ARGS` finds the rule.
pub fn rule_exists(rule: &Rule) -> Result<bool> {
    succeeds(
        iptables()
            .args(["-t", rule.table, "-C", &rule.chain])
            .args(&rule.args),
    )
}

/// Appends `rule` unless it is already there.
pub fn append(rule: &Rule) -> Result<()> {
    if !rule_exists(rule)? {
        run(iptables()
            .args(["-t", rule.table, "-A", &rule.chain])
            .args(&rule.args))?;
    }
    Ok(())
}

/// Inserts `rule` first in its chain unless it is already there.
pub fn insert(rule: &Rule) -> Result<()> {
    if !rule_exists(rule)? {
        run(iptables()
            .args(["-t", rule.table, "-I", &rule.chain, "1"])
            .args(&rule.args))?;
    }
    Ok(())
}

/// Deletes every copy of `rule`; a missing rule or chain is fine.
pub fn delete(rule: &Rule) -> Result<()> {
    while rule_exists(rule)? {
        run(iptables()
            .args(["-t", rule.table, "-D", &rule.chain])
            .args(&rule.args))?;
    }
    Ok(())
}

/// True when `chain` exists in `table`.
pub fn chain_exists(table: &str, chain: &str) -> Result<bool> {
    succeeds(iptables().args(["-t", table, "-S", chain]))
}

/// The rules of one chain (all chains when `chain` is empty) as `iptables -S` prints them.
pub fn list(table: &str, chain: &str) -> Result<Vec<String>> {
    let mut cmd = iptables();
    cmd.args(["-t", table, "-S"]);
    if !chain.is_empty() {
        cmd.arg(chain);
    }
    let out = output(&mut cmd)?;
    if !out.status.success() {
        return Ok(vec![]);
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

impl Firewall {
    // ANCHOR: ensure
    /// Creates the berth chains and hooks them into the built-in ones, once.
    pub fn ensure_chains(&self) -> Result<()> {
        for (table, chain) in self.chains() {
            if !chain_exists(table, &chain)? {
                // iptables -t nat -N BERTH-POSTROUTING
                let created = run(iptables().args(["-t", table, "-N", &chain]));
                if created.is_err() && !chain_exists(table, &chain)? {
                    created?;
                }
            }
        }
        for rule in self.base_rules() {
            append(&rule)?;
        }
        for hook in self.hooks() {
            // iptables -t nat -I POSTROUTING 1 -j BERTH-POSTROUTING
            insert(&hook)?;
        }
        Ok(())
    }
    // ANCHOR_END: ensure

    /// Adds a bridge network's rules (idempotent).
    pub fn add_network(&self, net: &BridgeNet) -> Result<()> {
        self.ensure_chains()?;
        self.network_rules(net).iter().try_for_each(append)
    }

    /// Removes a bridge network's rules.
    pub fn remove_network(&self, net: &BridgeNet) -> Result<()> {
        self.network_rules(net).iter().try_for_each(delete)
    }

    /// Rewrites both isolation chains for the given set of bridges.
    pub fn set_isolation(&self, bridges: &[String]) -> Result<()> {
        for stage in ["ISOLATION-1", "ISOLATION-2"] {
            let chain = self.chain(stage);
            if chain_exists("filter", &chain)? {
                run(iptables().args(["-t", "filter", "-F", &chain]))?;
            }
        }
        if bridges.is_empty() {
            return Ok(());
        }
        self.ensure_chains()?;
        self.isolation_rules(bridges).iter().try_for_each(append)
    }

    /// Publishes one port of a container.
    pub fn add_port(&self, bridge: &str, ip: Ipv4Addr, port: &PortMapping) -> Result<()> {
        self.port_rules(bridge, ip, port)
            .iter()
            .try_for_each(append)
    }

    /// Withdraws one published port.
    pub fn remove_port(&self, bridge: &str, ip: Ipv4Addr, port: &PortMapping) -> Result<()> {
        self.port_rules(bridge, ip, port)
            .iter()
            .try_for_each(delete)
    }

    /// Removes the hooks and every chain of this prefix: the whole set.
    pub fn remove_all(&self) -> Result<()> {
        for hook in self.hooks() {
            delete(&hook)?;
        }
        for (table, chain) in self.chains() {
            if chain_exists(table, &chain)? {
                run(iptables().args(["-t", table, "-F", &chain]))?;
            }
        }
        for (table, chain) in self.chains() {
            if chain_exists(table, &chain)? {
                run(iptables().args(["-t", table, "-X", &chain]))?;
            }
        }
        Ok(())
    }

    /// True when any chain of this prefix exists.
    pub fn installed(&self) -> Result<bool> {
        for (table, chain) in self.chains() {
            if chain_exists(table, &chain)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Chain prefixes found in the nat and filter tables that start with `family`
/// (`BERTH` finds `BERTH` and test prefixes such as `BERTHT1A2B`).
pub fn prefixes_present(family: &str) -> Result<Vec<String>> {
    let mut found = vec![];
    for table in ["nat", "filter"] {
        for line in list(table, "")? {
            let Some(chain) = line.strip_prefix("-N ") else {
                continue;
            };
            let Some((prefix, _)) = chain.split_once('-') else {
                continue;
            };
            if prefix.starts_with(family) && !found.iter().any(|p| p == prefix) {
                found.push(prefix.to_string());
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(rules: &[Rule]) -> Vec<String> {
        rules.iter().map(Rule::spec).collect()
    }

    #[test]
    fn hooks_jump_into_berth_chains() {
        let fw = Firewall::default();
        assert_eq!(
            specs(&fw.hooks()),
            [
                "-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PREROUTING",
                "-t nat -A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-OUTPUT",
                "-t nat -A POSTROUTING -j BERTH-POSTROUTING",
                "-t filter -A FORWARD -j BERTH-FORWARD",
                "-t filter -A INPUT -j BERTH-INPUT",
            ]
        );
    }

    #[test]
    fn network_rules_masquerade_the_subnet() {
        let fw = Firewall::with_prefix("BT").unwrap();
        let net = BridgeNet {
            bridge: "berth0".into(),
            subnet: "172.18.0.1/16".parse().unwrap(),
        };
        let rules = specs(&fw.network_rules(&net));
        assert_eq!(
            rules[0],
            "-t nat -A BT-POSTROUTING -s 172.18.0.0/16 ! -o berth0 -j MASQUERADE"
        );
        assert_eq!(
            rules[1],
            "-t nat -A BT-POSTROUTING -s 127.0.0.0/8 -o berth0 -j MASQUERADE"
        );
        assert!(
            rules
                .iter()
                .any(|r| r == "-t filter -A BT-FORWARD -i berth0 ! -o berth0 -j ACCEPT")
        );
        assert!(rules.iter().all(|r| r.contains("berth0")));
    }

    #[test]
    fn isolation_is_two_stages() {
        let fw = Firewall::default();
        let rules = specs(&fw.isolation_rules(&["berth0".into(), "berth-a".into()]));
        assert_eq!(
            rules,
            [
                "-t filter -A BERTH-ISOLATION-1 -i berth0 ! -o berth0 -j BERTH-ISOLATION-2",
                "-t filter -A BERTH-ISOLATION-1 -i berth-a ! -o berth-a -j BERTH-ISOLATION-2",
                "-t filter -A BERTH-ISOLATION-2 -o berth0 -j DROP",
                "-t filter -A BERTH-ISOLATION-2 -o berth-a -j DROP",
            ]
        );
    }

    #[test]
    fn published_port_rules() {
        let fw = Firewall::default();
        let port: PortMapping = "127.0.0.1:8080:80".parse().unwrap();
        let rules = specs(&fw.port_rules("berth0", Ipv4Addr::new(172, 18, 0, 2), &port));
        assert_eq!(
            rules,
            [
                "-t nat -A BERTH-PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80",
                "-t nat -A BERTH-OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80",
                "-t nat -A BERTH-POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE",
                "-t filter -A BERTH-FORWARD -d 172.18.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT",
            ]
        );
        let udp: PortMapping = "5353:53/udp".parse().unwrap();
        let rules = specs(&fw.port_rules("berth0", Ipv4Addr::new(172, 18, 0, 2), &udp));
        assert!(
            rules[0].ends_with("-p udp -m udp --dport 5353 -j DNAT --to-destination 172.18.0.2:53")
        );
    }

    #[test]
    fn chain_names_fit_iptables() {
        let fw = Firewall::with_prefix("BERTHT4194304").unwrap();
        // iptables chain names are at most 28 characters.
        assert!(fw.chains().iter().all(|(_, c)| c.len() <= 28));
        assert!(Firewall::with_prefix("BAD-PREFIX").is_err());
        assert!(Firewall::with_prefix("").is_err());
    }
}
