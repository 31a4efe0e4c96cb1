//! Packet filtering and NAT with the `iptables` binary (nf_tables backend), as Docker does.
//!
//! Every rule berth adds lives in a chain berth owns (`BERTH-POSTROUTING`,
//! `BERTH-FORWARD`, ...). The built-in chains get one jump each, added once,
//! so the whole set can be listed (`iptables -t nat -S BERTH-POSTROUTING`)
//! and removed without touching anyone else's rules.
//!
//! Rules are generated as data by pure functions (unit-tested, shown in the
//! book) and applied in transactions: one `iptables-restore --noflush` reads
//! a batch of `-N`/`-A`/`-I`/`-C`/`-D` lines and commits each table's all or none.
//! A network's chains and static rules are ensured once ([`Firewall::add_network`]:
//! one `iptables-save` read, then one transaction with what is missing); a
//! container's rules are one transaction that first checks (`-C`) that the
//! network's rules are there, then appends the container's
//! ([`Firewall::add_container`]), and removal is the same rules with `-D`,
//! in one transaction too. The checks are left out while the ruleset's
//! generation shows nothing changed since they last passed
//! ([`crate::verified`]); a batch's process may run while the caller does
//! other work ([`Transaction::start`]). Each table of a batch is its own
//! commit: a batch that fails in its second table keeps what its first added.

use std::net::Ipv4Addr;
use std::process::Command;

use std::io::Write;
use std::process::Stdio;

use crate::cidr::Cidr;
use crate::cmd::{output, run, succeeds};
use crate::mode::PortMapping;
use crate::{Error, Result, trace};

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

    /// `-A CHAIN ARGS...` (or another operation), as `iptables-save` and
    /// `iptables-restore` write it inside a table.
    fn line(&self, op: &str) -> String {
        format!("{op} {} {}", self.chain, self.args.join(" "))
    }
}

// ANCHOR: transaction
/// One `iptables-restore --noflush` batch: lines per table, each table
/// committed all or none (a failing table stops the batch; the tables
/// before it stay committed). Each line is also the argument list of an `iptables -t TABLE`
/// command, which is what `--show-commands` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    lines: Vec<(&'static str, String)>,
}

impl Transaction {
    /// `-N CHAIN`: a new chain (only for one that does not exist: declaring
    /// an existing chain to iptables-restore would flush it).
    pub fn new_chain(&mut self, table: &'static str, chain: &str) {
        self.lines.push((table, format!("-N {chain}")));
    }

    /// `-C`: the whole batch fails unless `rule` is there.
    pub fn check(&mut self, rule: &Rule) {
        self.lines.push((rule.table, rule.line("-C")));
    }

    /// `-A`: appended to its chain.
    pub fn append(&mut self, rule: &Rule) {
        self.lines.push((rule.table, rule.line("-A")));
    }

    /// `-I CHAIN 1`: inserted first in its chain.
    pub fn insert(&mut self, rule: &Rule) {
        let line = format!("-I {} 1 {}", rule.chain, rule.args.join(" "));
        self.lines.push((rule.table, line));
    }

    /// `-D`: deleted (the batch fails if it is not there).
    pub fn delete(&mut self, rule: &Rule) {
        self.lines.push((rule.table, rule.line("-D")));
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The commits applying it makes, as the ruleset's generation counts
    /// them: one per table with a line that changes something (a table
    /// of `-C` checks only commits nothing).
    pub fn commits(&self) -> u32 {
        ["nat", "filter"]
            .iter()
            .filter(|table| {
                self.lines
                    .iter()
                    .any(|(t, line)| t == *table && !line.starts_with("-C "))
            })
            .count() as u32
    }

    /// The equivalent commands, in order: `iptables -t nat -A ...`.
    pub fn commands(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|(table, line)| format!("iptables -t {table} {line}"))
            .collect()
    }

    /// What `iptables-restore` reads: a block per table, each ending in COMMIT.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for table in ["nat", "filter"] {
            let lines: Vec<&String> = self
                .lines
                .iter()
                .filter(|(t, _)| *t == table)
                .map(|(_, l)| l)
                .collect();
            if lines.is_empty() {
                continue;
            }
            text.push_str(&format!("*{table}\n"));
            for line in lines {
                // A new chain is declared, not added: `:CHAIN - [0:0]`.
                match line.strip_prefix("-N ") {
                    Some(chain) => text.push_str(&format!(":{chain} - [0:0]\n")),
                    None => {
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
            text.push_str("COMMIT\n");
        }
        text
    }

    /// Runs the batch: one `iptables-restore -w --noflush` process.
    pub fn apply(&self) -> Result<()> {
        match self.start()? {
            Some(running) => running.wait(),
            None => Ok(()),
        }
    }

    /// Starts the batch's process and hands it its lines, without waiting
    /// for it (None when there is nothing to do).
    pub fn start(&self) -> Result<Option<Running>> {
        if self.is_empty() {
            return Ok(None);
        }
        for command in self.commands() {
            trace::command(&command);
        }
        let mut child = Command::new("iptables-restore")
            .args(["-w", "--noflush"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::engine(format!(
                    "cannot run `iptables-restore`: {e} (apt-get install iptables)"
                ))
            })?;
        // A few lines: the pipe holds them all, so this does not block.
        let written = child
            .stdin
            .take()
            .expect("piped")
            .write_all(self.text().as_bytes());
        Ok(Some(Running { child, written }))
    }
}

/// An `iptables-restore` batch under way: [`Running::wait`] says how it
/// went (dropping it waits too, so no process is left behind).
#[derive(Debug)]
pub struct Running {
    child: std::process::Child,
    written: std::io::Result<()>,
}

impl Running {
    /// Waits for the batch: all of it applied, or none.
    pub fn wait(mut self) -> Result<()> {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = self
            .child
            .wait()
            .map_err(|e| Error::engine(format!("waiting for `iptables-restore`: {e}")))?;
        if !status.success() || self.written.is_err() {
            let why = stderr.lines().next().unwrap_or("").trim().to_string();
            return Err(Error::engine(format!(
                "`iptables-restore --noflush` failed: {why}"
            )));
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.wait();
    }
}
// ANCHOR_END: transaction

/// What `iptables-save` shows of the nat and filter tables: chains and rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// (table, chain) of every chain, built-in ones included.
    pub chains: Vec<(String, String)>,
    /// (table, `-A CHAIN ARGS`) of every rule.
    pub rules: Vec<(String, String)>,
}

impl Saved {
    /// One read of the whole ruleset: one `iptables-save` process.
    pub fn read() -> Result<Saved> {
        Ok(Saved::parse(&run(&mut Command::new("iptables-save"))?))
    }

    /// Parses `iptables-save` output.
    pub fn parse(text: &str) -> Saved {
        let mut saved = Saved::default();
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            } else if let Some(chain) = line.strip_prefix(':') {
                let name = chain.split_whitespace().next().unwrap_or("");
                saved.chains.push((table.clone(), name.to_string()));
            } else if line.starts_with("-A ") {
                saved.rules.push((table.clone(), line.to_string()));
            }
        }
        saved
    }

    pub fn has_chain(&self, table: &str, chain: &str) -> bool {
        self.chains.iter().any(|(t, c)| t == table && c == chain)
    }

    pub fn has_rule(&self, rule: &Rule) -> bool {
        let line = rule.line("-A");
        self.rules
            .iter()
            .any(|(t, l)| t == rule.table && *l == line)
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
    /// `network create --internal`: see [`Firewall::internal_rules`].
    pub internal: bool,
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
        if net.internal {
            return self.internal_rules(net);
        }
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
                    "-d 127.0.0.0/8 -i {br} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
                ),
            ),
        ]
    }
    // ANCHOR_END: network_rules

    // ANCHOR: internal_rules
    /// An internal network: no masquerade, and every packet that would
    /// cross the bridge's edge, out of it or into it, dropped. Containers
    /// on it talk to each other (and the host to them), nothing more.
    pub fn internal_rules(&self, net: &BridgeNet) -> Vec<Rule> {
        let br = &net.bridge;
        let fwd = self.chain("FORWARD");
        vec![
            Rule::new("filter", &fwd, &format!("-i {br} ! -o {br} -j DROP")),
            Rule::new("filter", &fwd, &format!("! -i {br} -o {br} -j DROP")),
            Rule::new("filter", &fwd, &format!("-i {br} -o {br} -j ACCEPT")),
            Rule::new(
                "filter",
                self.chain("INPUT"),
                &format!(
                    "-d 127.0.0.0/8 -i {br} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
                ),
            ),
        ]
    }
    // ANCHOR_END: internal_rules

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
    /// What is missing of berth's chains, their hooks, the first rule of
    /// BERTH-FORWARD and `rules`, given one read of the ruleset.
    pub fn missing(&self, saved: &Saved, rules: &[Rule]) -> Transaction {
        let mut tx = Transaction::default();
        for (table, chain) in self.chains() {
            if !saved.has_chain(table, &chain) {
                // iptables -t nat -N BERTH-POSTROUTING
                tx.new_chain(table, &chain);
            }
        }
        for rule in self.base_rules().iter().chain(rules) {
            if !saved.has_rule(rule) {
                tx.append(rule);
            }
        }
        for hook in self.hooks() {
            if !saved.has_rule(&hook) {
                // iptables -t nat -I POSTROUTING 1 -j BERTH-POSTROUTING
                tx.insert(&hook);
            }
        }
        tx
    }

    /// Ensures `rules` and the chain set around them: under the host-wide
    /// lock (two runs must not both declare a chain), one `iptables-save`
    /// read and, if anything is missing, one transaction.
    pub fn ensure(&self, rules: &[Rule]) -> Result<()> {
        let _host = crate::lock::host_lock()?;
        self.missing(&Saved::read()?, rules).apply()
    }
    // ANCHOR_END: ensure

    /// Creates the berth chains and hooks them into the built-in ones, once.
    pub fn ensure_chains(&self) -> Result<()> {
        self.ensure(&[])
    }

    /// Adds a bridge network's rules (idempotent).
    pub fn add_network(&self, net: &BridgeNet) -> Result<()> {
        self.ensure(&self.network_rules(net))
    }

    /// Removes a bridge network's rules (those present), in one transaction.
    pub fn remove_network(&self, net: &BridgeNet) -> Result<()> {
        self.remove_present(&self.network_rules(net))
    }

    /// Deletes those of `rules` that are there: one read, one transaction.
    fn remove_present(&self, rules: &[Rule]) -> Result<()> {
        let saved = Saved::read()?;
        let mut tx = Transaction::default();
        for rule in rules.iter().filter(|r| saved.has_rule(r)) {
            tx.delete(rule);
        }
        tx.apply()
    }

    /// Brings a network's firewall state up in one go: berth's chains,
    /// hooks and this network's rules where missing, and both isolation
    /// chains rewritten for `bridges` (every network's bridge): one read,
    /// one transaction, under the host-wide lock.
    pub fn ensure_network(&self, net: &BridgeNet, bridges: &[String]) -> Result<()> {
        let _host = crate::lock::host_lock()?;
        let saved = Saved::read()?;
        let mut tx = self.missing(&saved, &self.network_rules(net));
        self.rewrite_isolation(&saved, bridges, &mut tx);
        tx.apply()
    }

    /// Rewrites both isolation chains for the given set of bridges.
    pub fn set_isolation(&self, bridges: &[String]) -> Result<()> {
        let _host = crate::lock::host_lock()?;
        let saved = Saved::read()?;
        let mut tx = if bridges.is_empty() {
            Transaction::default()
        } else {
            self.missing(&saved, &[])
        };
        self.rewrite_isolation(&saved, bridges, &mut tx);
        tx.apply()
    }

    fn rewrite_isolation(&self, saved: &Saved, bridges: &[String], tx: &mut Transaction) {
        for stage in ["ISOLATION-1", "ISOLATION-2"] {
            let chain = self.chain(stage);
            if saved.has_chain("filter", &chain) {
                tx.lines.push(("filter", format!("-F {chain}")));
            }
        }
        self.isolation_rules(bridges)
            .iter()
            .for_each(|r| tx.append(r));
    }

    // ANCHOR: container
    /// A container's transaction: checks (`-C`) that the network's hooks
    /// and rules are there, then appends the rules of its published ports.
    pub fn container_transaction(
        &self,
        net: &BridgeNet,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Transaction {
        let mut tx = Transaction::default();
        let hooks = self.hooks();
        let fixed = self.base_rules().into_iter().chain(self.network_rules(net));
        for rule in hooks.iter().chain(&fixed.collect::<Vec<_>>()) {
            tx.check(rule);
        }
        tx.lines
            .extend(self.ports_transaction(&net.bridge, ip, ports).lines);
        tx
    }

    /// The appends of a container's published ports alone, for a ruleset
    /// known unchanged since the network's rules were checked.
    pub fn ports_transaction(
        &self,
        bridge: &str,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Transaction {
        let mut tx = Transaction::default();
        for port in ports {
            self.port_rules(bridge, ip, port)
                .iter()
                .for_each(|r| tx.append(r));
        }
        tx
    }

    /// Adds a container's rules: one `iptables-restore` process (for a
    /// container with no port, only the check; [`crate::verified`] says
    /// when even that can be skipped). It fails, adding nothing, when the
    /// network's rules are not there (never added, or flushed since): the
    /// caller ensures them and tries again.
    pub fn add_container(
        &self,
        net: &BridgeNet,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Result<()> {
        self.container_transaction(net, ip, ports).apply()
    }

    /// Removes exactly what [`Firewall::add_container`] added: the same
    /// rules with `-D`, in one transaction. If some are gone already (a
    /// flush, a sweep), those left are deleted after one read.
    pub fn remove_container(
        &self,
        bridge: &str,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Result<()> {
        let tx = self.removal_transaction(bridge, ip, ports);
        if tx.apply().is_ok() {
            return Ok(());
        }
        let rules: Vec<Rule> = ports
            .iter()
            .flat_map(|p| self.port_rules(bridge, ip, p))
            .collect();
        self.remove_present(&rules)
    }

    /// The `-D` of every rule [`Firewall::add_container`] added for `ports`.
    pub fn removal_transaction(
        &self,
        bridge: &str,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Transaction {
        let mut tx = Transaction::default();
        for port in ports {
            self.port_rules(bridge, ip, port)
                .iter()
                .for_each(|r| tx.delete(r));
        }
        tx
    }
    // ANCHOR_END: container

    /// Publishes one port of a container.
    pub fn add_port(&self, bridge: &str, ip: Ipv4Addr, port: &PortMapping) -> Result<()> {
        let mut tx = Transaction::default();
        self.port_rules(bridge, ip, port)
            .iter()
            .for_each(|r| tx.append(r));
        tx.apply()
    }

    /// Withdraws one published port.
    pub fn remove_port(&self, bridge: &str, ip: Ipv4Addr, port: &PortMapping) -> Result<()> {
        self.remove_container(bridge, ip, std::slice::from_ref(port))
    }

    /// Removes the hooks and every chain of this prefix: the whole set.
    pub fn remove_all(&self) -> Result<()> {
        let saved = Saved::read()?;
        let mut tx = Transaction::default();
        for hook in self.hooks().iter().filter(|h| saved.has_rule(h)) {
            tx.delete(hook);
        }
        for (table, chain) in self.chains() {
            if saved.has_chain(table, &chain) {
                tx.lines.push((table, format!("-F {chain}")));
            }
        }
        for (table, chain) in self.chains() {
            if saved.has_chain(table, &chain) {
                tx.lines.push((table, format!("-X {chain}")));
            }
        }
        tx.apply()
    }

    /// True when any chain of this prefix exists.
    pub fn installed(&self) -> Result<bool> {
        let saved = Saved::read()?;
        Ok(self
            .chains()
            .iter()
            .any(|(table, chain)| saved.has_chain(table, chain)))
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
            internal: false,
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
    fn internal_networks_have_no_way_out() {
        let fw = Firewall::with_prefix("BT").unwrap();
        let net = BridgeNet {
            bridge: "berth-in".into(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            internal: true,
        };
        let rules = specs(&fw.network_rules(&net));
        assert!(!rules.iter().any(|r| r.contains("MASQUERADE")), "{rules:?}");
        assert_eq!(
            rules[..2],
            [
                "-t filter -A BT-FORWARD -i berth-in ! -o berth-in -j DROP",
                "-t filter -A BT-FORWARD ! -i berth-in -o berth-in -j DROP",
            ]
        );
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
