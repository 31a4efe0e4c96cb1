//! The eight namespaces: what each one isolates, and how one is created.
//!
//! Six are created by `clone` itself. The cgroup and time namespaces are
//! created by the child with `unshare` after the parent released it: a
//! cgroup namespace takes the child's cgroup *at that moment* as its root
//! (chapter 3 moves the child into its cgroup first), and `CLONE_NEWTIME`
//! does not fit in `clone`'s flags at all (its bit is taken by the exit
//! signal), so it can only be unshared (or passed to `clone3`).

use std::collections::BTreeSet;
use std::fmt;

use nix::sched::CloneFlags;

use crate::Error;

// ANCHOR: namespace
/// One kind of namespace, named as in `/proc/PID/ns/` and `lsns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// Process ids: the container's first process is pid 1.
    Pid,
    /// Hostname and NIS domain name.
    Uts,
    /// System V IPC objects and POSIX message queues.
    Ipc,
    /// The mount table: what is mounted where, and what `/` is.
    Mount,
    /// Network devices, addresses, routes, firewall, ports, `/proc/net`.
    Net,
    /// User and group ids, and the capabilities that come with them.
    User,
    /// The view of the cgroup tree (`/proc/self/cgroup` shows `/`).
    Cgroup,
    /// The monotonic and boot-time clocks (offsets, not the wall clock).
    Time,
}
// ANCHOR_END: namespace

impl Namespace {
    /// Every namespace, in the order the book presents them.
    pub const ALL: [Namespace; 8] = [
        Namespace::Pid,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Mount,
        Namespace::Net,
        Namespace::User,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The name used by `/proc/PID/ns/<name>`, `lsns -t` and `--share`.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Mount => "mnt",
            Namespace::Net => "net",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    /// The `CLONE_NEW*` flag creating this namespace.
    pub fn flag(self) -> CloneFlags {
        match self {
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        }
    }

    /// True for the namespaces the child unshares itself after release.
    pub fn unshared_by_child(self) -> bool {
        matches!(self, Namespace::Cgroup | Namespace::Time)
    }

    /// Parses a `--share` value: `lsns` names, plus `mount` and `network`.
    pub fn parse(name: &str) -> Result<Namespace, Error> {
        let found = match name {
            "mount" => Some(Namespace::Mount),
            "network" => Some(Namespace::Net),
            _ => Namespace::ALL.into_iter().find(|n| n.name() == name),
        };
        found.ok_or_else(|| {
            let names: Vec<&str> = Namespace::ALL.iter().map(|n| n.name()).collect();
            Error::invalid(format!(
                "unknown namespace {name:?} (known: {})",
                names.join(", ")
            ))
        })
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of namespaces a container gets of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces(BTreeSet<Namespace>);

impl Default for Namespaces {
    /// What `docker run` gives: everything except a user namespace.
    fn default() -> Self {
        Namespaces(
            Namespace::ALL
                .into_iter()
                .filter(|n| *n != Namespace::User)
                .collect(),
        )
    }
}

impl Namespaces {
    /// True when the container gets its own `ns`.
    pub fn contains(&self, ns: Namespace) -> bool {
        self.0.contains(&ns)
    }

    /// Gives the container its own `ns`.
    pub fn insert(&mut self, ns: Namespace) {
        self.0.insert(ns);
    }

    /// Keeps `ns` shared with the host.
    pub fn remove(&mut self, ns: Namespace) {
        self.0.remove(&ns);
    }

    /// The namespaces of the set, in `Namespace::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = Namespace> + '_ {
        self.0.iter().copied()
    }

    /// The flags for `clone`: every namespace not unshared by the child.
    pub fn clone_flags(&self) -> CloneFlags {
        self.iter()
            .filter(|n| !n.unshared_by_child())
            .fold(CloneFlags::empty(), |flags, n| flags | n.flag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for ns in Namespace::ALL {
            assert_eq!(Namespace::parse(ns.name()).unwrap(), ns);
        }
        assert_eq!(Namespace::parse("network").unwrap(), Namespace::Net);
        let err = Namespace::parse("nope").unwrap_err();
        assert_eq!(err.code, 125);
        assert!(err.message.contains("known: pid, uts"), "{}", err.message);
    }

    #[test]
    fn default_is_everything_but_user() {
        let set = Namespaces::default();
        assert!(!set.contains(Namespace::User));
        assert!(set.contains(Namespace::Time));
        let flags = set.clone_flags();
        assert!(flags.contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        // Created by the child with unshare, never by clone.
        assert!(!flags.contains(CloneFlags::CLONE_NEWCGROUP));
        assert_eq!(flags.bits() & libc::CLONE_NEWTIME, 0);
    }
}
