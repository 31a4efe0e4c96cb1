//! When a network's rules were last seen whole: the ruleset generation
//! ([`crate::nftables::generation`]) at that moment, kept in the state root.
//!
//! A container's firewall transaction checks (`-C`) that its network's
//! hooks and rules are there before it adds its own: a ruleset flushed
//! behind berth's back is noticed and rebuilt. A container with no
//! published port has nothing else to add, and checking costs a process.
//! So each transaction that leaves the network's rules provably whole
//! records the generation it left; a later container finding the same
//! generation knows nothing has changed since, by anyone, and starts no
//! process at all (as Docker starts none for a container without ports).
//!
//! A generation is recorded only when it is known to be one where the
//! rules were there: the transaction checked them (or they were whole
//! before it, at the recorded generation) and the generation moved by
//! exactly the transaction's own commits. The record also names the boot
//! (a generation counts from zero again after a reboot) and the chain
//! prefix, and is written only while the chains are in nf_tables (with
//! `iptables-legacy`, the generation would not see them change).

use std::path::PathBuf;

use ch04_overlay::atomic::write_atomic_volatile;

use crate::iptables::{Firewall, Running, Transaction};
use crate::lock::StateRoot;
use crate::{Result, nftables};

/// The record of one network: `<root>/network/verified/NAME`.
#[derive(Debug, Clone)]
pub struct Verified {
    path: PathBuf,
    prefix: String,
}

/// The kernel's id of this boot.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

// ANCHOR: verified
impl Verified {
    /// The record of network `network` of `state`, for `firewall`'s chains.
    pub fn new(state: &StateRoot, network: &str, firewall: &Firewall) -> Verified {
        Verified {
            path: state.dir().join("verified").join(network),
            prefix: firewall.prefix.clone(),
        }
    }

    /// What the record says for this boot and prefix: the generation.
    fn recorded(&self) -> Option<u32> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let mut words = text.split_whitespace();
        let (boot, prefix, generation) = (words.next()?, words.next()?, words.next()?);
        (boot == boot_id() && prefix == self.prefix)
            .then(|| generation.parse().ok())
            .flatten()
    }

    /// True when the ruleset is the one last seen with the network's
    /// rules whole: one netlink read, no process.
    pub fn unchanged(&self) -> bool {
        self.recorded()
            .is_some_and(|seen| nftables::generation().is_ok_and(|now| now == seen))
    }

    /// Applies `tx`, which checks the network's rules if `checks` (else it
    /// only adds or removes a container's own), and records the generation
    /// it leaves when that is provably one with the rules whole.
    pub fn apply(&self, tx: &Transaction, checks: bool) -> Result<()> {
        self.start(tx, checks)?.finish()
    }

    /// [`Verified::apply`] in two halves: the batch's process starts here
    /// and runs while the caller does something else, then [`Pending::finish`].
    pub fn start(&self, tx: &Transaction, checks: bool) -> Result<Pending<'_>> {
        let before = nftables::generation().ok();
        let whole_before = checks || before.is_some_and(|b| self.recorded() == Some(b));
        Ok(Pending {
            verified: self,
            before: before.filter(|_| whole_before),
            commits: tx.commits(),
            running: tx.start()?,
        })
    }

    fn record(&self, generation: u32) {
        let chain = format!("{}-FORWARD", self.prefix);
        if !nftables::has_chain("filter", &chain).unwrap_or(false) {
            return;
        }
        let text = format!("{} {} {generation}\n", boot_id(), self.prefix);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // A record that cannot be written only costs the next container a check.
        let _ = write_atomic_volatile(&self.path, text.as_bytes());
    }

    /// Forgets the record (the network is taken down).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
// ANCHOR_END: verified

/// A batch started by [`Verified::start`].
pub struct Pending<'a> {
    verified: &'a Verified,
    /// The generation before it, if the rules were whole then.
    before: Option<u32>,
    commits: u32,
    running: Option<Running>,
}

impl Pending<'_> {
    /// Waits for the batch; records the generation it left if that is
    /// provably one with the network's rules whole.
    pub fn finish(mut self) -> Result<()> {
        if let Some(running) = self.running.take() {
            running.wait()?;
        }
        let after = nftables::generation().ok();
        if let (Some(before), Some(after)) = (self.before, after) {
            if after == before.wrapping_add(self.commits) {
                self.verified.record(after);
            }
        }
        Ok(())
    }
}
