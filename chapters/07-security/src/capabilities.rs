//! Capabilities: root's power cut into ~40 pieces, and the five sets that
//! decide which pieces a process holds now and after `execve`.
//!
//! - **bounding**: the most a process (and everything it executes) can ever
//!   gain; only ever shrinks.
//! - **permitted**: what it may switch on; **effective**: what the kernel
//!   checks right now.
//! - **inheritable** and **ambient**: what survives an `execve` of a file
//!   without file capabilities (ambient) or with them (inheritable).
//!
//! A container's root keeps Docker's 14 ([`DEFAULT`]); `--cap-add`,
//! `--cap-drop` (both taking `ALL`) and `--privileged` change that. A
//! non-root `--user` ends with empty permitted and effective sets, and the
//! bounding set still limits what a set-uid program could regain.

use std::collections::BTreeSet;

use caps::{CapSet, Capability, CapsHashSet};

use crate::{Error, Result};

// ANCHOR: default
/// Docker's default capabilities: enough for a normal root's file and
/// process handling (chown, setuid, kill, binding port 80, raw sockets for
/// ping), none that reaches past the container (mount, modules, ptrace,
/// the clock, raw I/O, admin of the network or the system).
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_AUDIT_WRITE,
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETGID,
    Capability::CAP_SETPCAP,
    Capability::CAP_SETUID,
    Capability::CAP_SYS_CHROOT,
];
// ANCHOR_END: default

/// `--cap-add`, `--cap-drop` and `--privileged`, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilityOptions {
    pub add: Vec<String>,
    pub drop: Vec<String>,
    pub privileged: bool,
}

/// Every capability this kernel has.
pub fn all_supported() -> CapsHashSet {
    caps::runtime::thread_all_supported()
}

/// Every capability the engine holds itself: what `ALL` and
/// `--privileged` give (an engine inside a restricted sandbox cannot hand
/// out what it lacks, and the kernel would refuse it).
pub fn all_available() -> CapsHashSet {
    let held = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let mut all = all_supported();
    all.retain(|c| held.contains(c));
    all
}

/// Parses `NET_ADMIN`, `cap_net_admin` or `CAP_NET_ADMIN`.
pub fn parse_capability(name: &str) -> Result<Capability> {
    caps::to_canonical(name).parse().map_err(|_| {
        Error::engine(format!(
            "unknown capability {name:?}: use a name from capabilities(7), such as NET_ADMIN, or ALL"
        ))
    })
}

fn is_all(name: &str) -> bool {
    name.eq_ignore_ascii_case("ALL")
}

// ANCHOR: resolve
impl CapabilityOptions {
    /// The container's capabilities, as Docker computes them: the default
    /// set (or none after `--cap-drop ALL`), minus the drops, plus the adds.
    pub fn resolve(&self) -> Result<CapsHashSet> {
        // Names first, so a typo is reported whatever else was asked.
        let parse = |names: &[String]| -> Result<Vec<Capability>> {
            names
                .iter()
                .filter(|n| !is_all(n))
                .map(|n| parse_capability(n))
                .collect()
        };
        let (add, drop) = (parse(&self.add)?, parse(&self.drop)?);
        let supported = all_available();
        if self.privileged || self.add.iter().any(|n| is_all(n)) {
            return Ok(supported);
        }
        let mut set: CapsHashSet = if self.drop.iter().any(|n| is_all(n)) {
            CapsHashSet::new()
        } else {
            DEFAULT.iter().copied().collect()
        };
        for cap in drop {
            set.remove(&cap);
        }
        set.extend(add);
        set.retain(|c| supported.contains(c));
        Ok(set)
    }
}
// ANCHOR_END: resolve

/// `CAP_*` names of a set, sorted (the seccomp profile's conditions).
pub fn names(set: &CapsHashSet) -> BTreeSet<String> {
    set.iter().map(|c| c.to_string()).collect()
}

fn sys(what: &str) -> impl Fn(caps::errors::CapsError) -> Error + '_ {
    move |e| Error::engine(format!("{what}: {e}"))
}

// ANCHOR: bound
/// First, while still fully privileged: shrink the bounding set to the
/// container's capabilities (dropping needs `CAP_SETPCAP`), and ask the
/// kernel to keep the permitted set across the switch to a non-root user,
/// so the filter can still be installed after it.
pub fn bound(keep: &CapsHashSet) -> Result<()> {
    for cap in all_supported() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(sys("dropping from the bounding set"))?;
        }
    }
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| Error::engine(format!("prctl(PR_SET_KEEPCAPS): {}", e.desc())))
}
// ANCHOR_END: bound

/// Switches on every permitted capability (after the user switch cleared
/// the effective set): installing the filter needs `CAP_SYS_ADMIN`.
pub fn raise_permitted() -> Result<()> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(sys("reading capabilities"))?;
    caps::set(None, CapSet::Effective, &permitted).map_err(sys("raising capabilities"))
}

// ANCHOR: apply
/// Last, just before exec: the final sets. Root keeps `keep` permitted
/// and effective; any other user keeps nothing (as in Docker). Inheritable
/// and ambient are empty, so nothing passes through an `execve` but what
/// the kernel's rules for root and set-uid files give, within the bounding
/// set.
pub fn apply(keep: &CapsHashSet) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    let keep = if root {
        keep.clone()
    } else {
        CapsHashSet::new()
    };
    caps::clear(None, CapSet::Ambient).map_err(sys("clearing the ambient set"))?;
    caps::clear(None, CapSet::Inheritable).map_err(sys("clearing the inheritable set"))?;
    // Effective must stay within permitted: shrink it first.
    caps::set(None, CapSet::Effective, &keep).map_err(sys("setting the effective set"))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(sys("setting the permitted set"))?;
    nix::sys::prctl::set_keepcaps(false)
        .map_err(|e| Error::engine(format!("prctl(PR_SET_KEEPCAPS): {}", e.desc())))
}
// ANCHOR_END: apply

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add: &[&str], drop: &[&str]) -> CapabilityOptions {
        CapabilityOptions {
            add: add.iter().map(|s| s.to_string()).collect(),
            drop: drop.iter().map(|s| s.to_string()).collect(),
            privileged: false,
        }
    }

    #[test]
    fn docker_arithmetic() {
        let default = opts(&[], &[]).resolve().unwrap();
        assert_eq!(default.len(), 14);
        assert!(default.contains(&Capability::CAP_NET_RAW));
        let fewer = opts(&[], &["net_raw", "CAP_MKNOD"]).resolve().unwrap();
        assert_eq!(fewer.len(), 12);
        let only = opts(&["NET_ADMIN"], &["ALL"]).resolve().unwrap();
        assert_eq!(only, [Capability::CAP_NET_ADMIN].into_iter().collect());
        assert_eq!(opts(&["all"], &[]).resolve().unwrap(), all_available());
        let privileged = CapabilityOptions {
            privileged: true,
            ..Default::default()
        };
        assert_eq!(privileged.resolve().unwrap(), all_available());
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = opts(&["NET_ADMIM"], &[]).resolve().unwrap_err();
        assert_eq!(err.code, 125);
        assert!(err.message.starts_with("unknown capability \"NET_ADMIM\""));
    }
}
