//! A user-defined network's name table: which names answer with which address.
//!
//! One small JSON file per network, `<root>/network/dns/NAME.json`, holding
//! one entry per attached container: its address, its names (container
//! name, short id, aliases) and its owner (pid and start time, chapter 4's
//! [`Owner`]). It is written atomically under the state root's lock when
//! an endpoint is attached, and loses the entry when the endpoint is
//! detached or swept. The network's resolver ([`crate::serve`]) only reads
//! it, again whenever the file changes, and never answers for an entry
//! whose owner is gone: a name stops resolving when its container leaves.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ch04_overlay::atomic::write_atomic;
use ch04_overlay::owner::Owner;

use crate::lock::{Locked, StateRoot};
use crate::{Error, Result};

/// One container's names on the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub ip: Ipv4Addr,
    /// The container's name first, then its short id and aliases.
    pub names: Vec<String>,
    pub owner: Owner,
    /// Its `--dns` servers: where the resolver forwards its other queries
    /// (none: the host's resolvers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<Ipv4Addr>,
}

/// The names of one network, as stored in its file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    pub entries: Vec<Entry>,
}

// ANCHOR: view_of
impl Table {
    /// What the container at `querier` (an address in this table) may
    /// resolve: this network's names, and those of every other network in
    /// `others` that the same container is on (its entry there has the
    /// same owner), as Docker's resolver answers for all of a container's
    /// networks. Only this network's names for an address it does not know.
    pub fn view_of(&self, querier: Ipv4Addr, others: &[Table]) -> Table {
        let mut view = self.clone();
        let Some(owner) = self
            .entries
            .iter()
            .find(|e| e.ip == querier)
            .map(|e| &e.owner)
        else {
            return view;
        };
        for other in others {
            if other.entries.iter().any(|e| &e.owner == owner) {
                view.entries.extend(other.entries.iter().cloned());
            }
        }
        view
    }
}
// ANCHOR_END: view_of

/// Every name table of the state root but `network`'s (each as its file
/// holds it; one that cannot be read is left out).
pub fn other_tables(state: &StateRoot, network: &str) -> Vec<Table> {
    let own = table_path(state, network);
    let Ok(dir) = std::fs::read_dir(dns_dir(state)) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && *p != own)
        .filter_map(|p| read(&p).ok())
        .collect()
}

/// The directory of the name tables and resolvers: `<root>/network/dns`.
pub fn dns_dir(state: &StateRoot) -> PathBuf {
    state.dir().join("dns")
}

/// Where network `network`'s table is kept.
pub fn table_path(state: &StateRoot, network: &str) -> PathBuf {
    dns_dir(state).join(format!("{network}.json"))
}

/// The key a name is compared by: DNS names are case-insensitive, and a
/// fully qualified `web.` is the same name as `web`.
pub fn fold(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

// ANCHOR: table
impl Table {
    /// Adds (or replaces) the entry of address `ip`.
    pub fn add(&mut self, entry: Entry) {
        self.entries.retain(|e| e.ip != entry.ip);
        self.entries.push(entry);
    }

    /// Removes the entry of address `ip`; true if there was one.
    pub fn remove(&mut self, ip: Ipv4Addr) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.ip != ip);
        self.entries.len() != before
    }

    /// Drops the entries whose owner `alive` says is gone; returns them.
    pub fn take_dead(&mut self, alive: impl Fn(&Owner) -> bool) -> Vec<Entry> {
        let (live, dead) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| alive(&e.owner));
        self.entries = live;
        dead
    }

    /// The addresses `name` answers with (an alias two containers share
    /// gives both), in the order the containers joined.
    pub fn lookup(&self, name: &str) -> Vec<Ipv4Addr> {
        let key = fold(name);
        self.entries
            .iter()
            .filter(|e| e.names.iter().any(|n| fold(n) == key))
            .map(|e| e.ip)
            .collect()
    }

    /// The first name of the container at `ip` (for reverse lookups).
    pub fn name_of(&self, ip: Ipv4Addr) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.ip == ip)
            .and_then(|e| e.names.first())
            .map(String::as_str)
    }
}
// ANCHOR_END: table

/// Reads a table file; a missing file is an empty table.
pub fn read(path: &Path) -> Result<Table> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::engine(format!("corrupt {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Table::default()),
        Err(e) => Err(Error::engine(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Network `network`'s table. Needs the lock.
pub fn load(_lock: &Locked, state: &StateRoot, network: &str) -> Result<Table> {
    read(&table_path(state, network))
}

/// Writes the table atomically (a reader sees the old or the new one,
/// never half of either); an empty table's file is removed.
pub fn save(_lock: &Locked, state: &StateRoot, network: &str, table: &Table) -> Result<()> {
    let path = table_path(state, network);
    if table.entries.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::engine(format!(
                "cannot remove {}: {e}",
                path.display()
            ))),
            _ => Ok(()),
        };
    }
    let dir = dns_dir(state);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::engine(format!("cannot create {}: {e}", dir.display())))?;
    let text = serde_json::to_string_pretty(table).expect("a table serialises");
    write_atomic(&path, text.as_bytes())
}

/// Takes address `ip`'s names out of network `network`'s table (its
/// container left the network): they stop resolving at once.
pub fn forget(lock: &Locked, state: &StateRoot, network: &str, ip: Ipv4Addr) -> Result<()> {
    let mut table = load(lock, state, network)?;
    match table.remove(ip) {
        true => save(lock, state, network, &table),
        false => Ok(()),
    }
}

/// Removes the entries of dead owners from network `network`'s table.
/// Returns one line per removed entry.
pub fn remove_dead(lock: &Locked, state: &StateRoot, network: &str) -> Result<Vec<String>> {
    let mut table = load(lock, state, network)?;
    let dead = table.take_dead(Owner::is_alive);
    if dead.is_empty() {
        return Ok(vec![]);
    }
    save(lock, state, network, &table)?;
    Ok(dead
        .iter()
        .map(|e| {
            format!(
                "removed name {} ({}) of network {network} (pid {} is gone)",
                e.names.first().map_or("?", String::as_str),
                e.ip,
                e.owner.pid
            )
        })
        .collect())
}

/// The names a container answers to on a user-defined network: its name,
/// its short id (the first 12 characters of a long id, as Docker's), and
/// its aliases; each once.
pub fn container_names(name: &str, id: &str, aliases: &[String]) -> Vec<String> {
    let short = (id.len() > 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| &id[..12]);
    let mut names: Vec<String> = vec![];
    for n in std::iter::once(name)
        .chain(short)
        .chain(aliases.iter().map(String::as_str))
    {
        if !n.is_empty() && !names.iter().any(|m| fold(m) == fold(n)) {
            names.push(n.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ip: [u8; 4], names: &[&str], pid: u32) -> Entry {
        Entry {
            ip: Ipv4Addr::from(ip),
            names: names.iter().map(|n| n.to_string()).collect(),
            owner: Owner { pid, start: None },
            upstreams: vec![],
        }
    }

    #[test]
    fn lookups_fold_case_and_the_final_dot() {
        let mut t = Table::default();
        t.add(entry([10, 0, 0, 2], &["web", "0123456789ab", "front"], 1));
        t.add(entry([10, 0, 0, 3], &["db", "Front"], 2));
        assert_eq!(t.lookup("web"), [Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(t.lookup("WEB."), [Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(t.lookup("0123456789AB"), [Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(
            t.lookup("front"),
            [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert!(t.lookup("cache").is_empty());
        assert!(t.lookup("web.example.").is_empty());
        assert_eq!(t.name_of(Ipv4Addr::new(10, 0, 0, 3)), Some("db"));
    }

    #[test]
    fn entries_go_with_their_container() {
        let mut t = Table::default();
        t.add(entry([10, 0, 0, 2], &["web"], 1));
        t.add(entry([10, 0, 0, 3], &["db"], 2));
        // The same address again replaces its entry.
        t.add(entry([10, 0, 0, 3], &["cache"], 3));
        assert!(t.lookup("db").is_empty());
        let dead = t.take_dead(|o| o.pid != 1);
        assert_eq!(dead.len(), 1);
        assert!(t.lookup("web").is_empty());
        assert!(t.remove(Ipv4Addr::new(10, 0, 0, 3)));
        assert!(!t.remove(Ipv4Addr::new(10, 0, 0, 3)));
        assert!(t.entries.is_empty());
    }

    #[test]
    fn a_container_on_two_networks_sees_both() {
        let own = Table {
            entries: vec![
                entry([10, 1, 0, 2], &["web"], 7),
                entry([10, 1, 0, 3], &["db"], 8),
            ],
        };
        let other = Table {
            entries: vec![
                entry([10, 2, 0, 2], &["web"], 7),
                entry([10, 2, 0, 3], &["cache"], 9),
            ],
        };
        let third = Table {
            entries: vec![entry([10, 3, 0, 2], &["secret"], 10)],
        };
        let others = [other, third];
        // web is on both networks: it sees cache, not secret.
        let view = own.view_of(Ipv4Addr::new(10, 1, 0, 2), &others);
        assert_eq!(view.lookup("cache"), [Ipv4Addr::new(10, 2, 0, 3)]);
        assert!(view.lookup("secret").is_empty());
        // db is on one network only.
        assert!(
            own.view_of(Ipv4Addr::new(10, 1, 0, 3), &others)
                .lookup("cache")
                .is_empty()
        );
    }

    #[test]
    fn names_of_a_container() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            container_names("web", id, &["front".into(), "WEB".into()]),
            ["web", "0123456789ab", "front"]
        );
        // A store without long ids (the id is the name) gives the name once.
        assert_eq!(container_names("web", "web", &[]), ["web"]);
    }

    #[test]
    fn saved_atomically_and_removed_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateRoot::new(dir.path());
        let lock = state.lock().unwrap();
        let mut t = Table::default();
        t.add(entry([10, 0, 0, 2], &["web"], std::process::id()));
        t.add(entry([10, 0, 0, 3], &["gone"], u32::MAX));
        save(&lock, &state, "app", &t).unwrap();
        assert_eq!(load(&lock, &state, "app").unwrap(), t);
        let removed = remove_dead(&lock, &state, "app").unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert_eq!(load(&lock, &state, "app").unwrap().entries.len(), 1);
        save(&lock, &state, "app", &Table::default()).unwrap();
        assert!(!table_path(&state, "app").exists());
    }
}
