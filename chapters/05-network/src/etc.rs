//! `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` for a container.
//!
//! They are generated into per-container files (`<dir>/hosts`, ...) that the
//! start sequence bind-mounts over the container's `/etc/...`, so the image's
//! lower layers are never written. On a user-defined network the
//! nameserver is the network's resolver ([`crate::serve`]), which knows the
//! other containers' names; `--add-host` lines are for everything else.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::{Error, Result};
use ch04_overlay::atomic::write_atomic_volatile;

/// Nameservers used when the host has only local ones (Docker's fallback).
pub const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// What the three files say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    pub hosts: String,
    pub hostname: String,
    pub resolv_conf: String,
}

// ANCHOR: hosts
/// `/etc/hosts`: localhost, then the container's own names (its hostname,
/// then aliases such as the container's name) on its address (on
/// `127.0.1.1` when it has none, as Debian does), then `extra_hosts`.
pub fn hosts(names: &[&str], ip: Option<Ipv4Addr>, extra_hosts: &[(String, Ipv4Addr)]) -> String {
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    let own = ip.unwrap_or(Ipv4Addr::new(127, 0, 1, 1));
    let mut own_names: Vec<&str> = vec![];
    for name in names {
        if !name.is_empty() && !own_names.contains(name) {
            own_names.push(name);
        }
    }
    text.push_str(&format!("{own}\t{}\n", own_names.join(" ")));
    for (name, addr) in extra_hosts {
        text.push_str(&format!("{addr}\t{name}\n"));
    }
    text
}
// ANCHOR_END: hosts

// ANCHOR: resolv
/// `/etc/resolv.conf` from the host's: nameservers on loopback (such as
/// systemd-resolved's 127.0.0.53) cannot be reached from a container's own
/// namespace, so they are dropped, and if none remain the fallback is used.
/// `dns` (`--dns`) replaces the nameservers. `search` and `options` lines stay.
pub fn resolv_conf(host_resolv: &str, dns: &[Ipv4Addr]) -> String {
    let mut kept = vec![];
    let mut servers = vec![];
    for line in host_resolv.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["nameserver", addr, ..] => {
                let local = addr
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback());
                if !local {
                    servers.push(addr.to_string());
                }
            }
            ["search" | "domain" | "options", ..] => kept.push(words.join(" ")),
            _ => {}
        }
    }
    if !dns.is_empty() {
        servers = dns.iter().map(|a| a.to_string()).collect();
    } else if servers.is_empty() {
        servers = FALLBACK_DNS.iter().map(|s| s.to_string()).collect();
    }
    let mut text: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    for line in kept {
        text.push_str(&line);
        text.push('\n');
    }
    text
}
// ANCHOR_END: resolv

// ANCHOR: check_values
/// Every name written into `/etc/hosts` and `/etc/hostname` must be one
/// word: the files are parsed line by line and word by word, so a newline
/// or a space in a value would add lines or names of the caller's choosing.
/// The hostname and `--add-host` names are RFC 1123 host names; aliases
/// (container names) are single words of printable characters. Addresses
/// and `--dns` servers are typed (`Ipv4Addr`), so they cannot carry text.
pub fn check_values(
    hostname: &str,
    aliases: &[String],
    extra_hosts: &[(String, Ipv4Addr)],
) -> Result<()> {
    ch02_namespaces::hostname::check_hostname(hostname)?;
    for (name, _) in extra_hosts {
        ch02_namespaces::hostname::check_hostname(name)
            .map_err(|e| Error::engine(format!("--add-host: {}", e.message)))?;
    }
    for alias in aliases {
        let word = !alias.is_empty() && alias.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
        if !word {
            return Err(Error::invalid(format!(
                "invalid name {alias:?} for /etc/hosts: one word of printable characters"
            )));
        }
    }
    Ok(())
}
// ANCHOR_END: check_values

impl EtcFiles {
    /// The files of a container called `hostname` (and `aliases`) at `ip`
    /// (None for `none` and `host`).
    pub fn generate(
        hostname: &str,
        aliases: &[String],
        ip: Option<Ipv4Addr>,
        extra_hosts: &[(String, Ipv4Addr)],
        host_resolv: &str,
        dns: &[Ipv4Addr],
    ) -> EtcFiles {
        EtcFiles {
            hosts: hosts(
                &std::iter::once(hostname)
                    .chain(aliases.iter().map(String::as_str))
                    .collect::<Vec<_>>(),
                ip,
                extra_hosts,
            ),
            hostname: format!("{hostname}\n"),
            resolv_conf: resolv_conf(host_resolv, dns),
        }
    }

    /// Writes `hosts`, `hostname` and `resolv.conf` into `dir` (the
    /// container's own state directory) and returns (file, target) pairs
    /// for the bind mounts: `dir/hosts` over `/etc/hosts`, and so on.
    pub fn write(&self, dir: &Path) -> Result<Vec<(PathBuf, &'static str)>> {
        let files = [
            ("hosts", &self.hosts, "/etc/hosts"),
            ("hostname", &self.hostname, "/etc/hostname"),
            ("resolv.conf", &self.resolv_conf, "/etc/resolv.conf"),
        ];
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::engine(format!("cannot create {}: {e}", dir.display())))?;
        let mut mounts = vec![];
        for (name, text, target) in files {
            let path = dir.join(name);
            // Rewritten by every run: nothing to keep across a reboot.
            write_atomic_volatile(&path, text.as_bytes())?;
            mounts.push((path, target));
        }
        Ok(mounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let text = hosts(
            &["web", "web-1", "web"],
            Some(Ipv4Addr::new(172, 18, 0, 2)),
            &[("db".into(), Ipv4Addr::new(172, 18, 0, 3))],
        );
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.contains("\n172.18.0.2\tweb web-1\n"));
        assert!(text.ends_with("172.18.0.3\tdb\n"));
        assert!(hosts(&["box"], None, &[]).ends_with("127.0.1.1\tbox\n"));
    }

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host =
            "# generated\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.internal\n";
        assert_eq!(
            resolv_conf(host, &[]),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions edns0 trust-ad\nsearch example.internal\n"
        );
        let host = "nameserver 192.0.2.53\nnameserver ::1\n";
        assert_eq!(resolv_conf(host, &[]), "nameserver 192.0.2.53\n");
        assert_eq!(
            resolv_conf(host, &[Ipv4Addr::new(1, 1, 1, 1)]),
            "nameserver 1.1.1.1\n"
        );
    }

    #[test]
    fn values_are_single_words() {
        let ip = Ipv4Addr::new(192, 0, 2, 7);
        check_values("web", &["my_app".into()], &[("db".into(), ip)]).unwrap();
        assert!(check_values("x\n6.6.6.6 name", &[], &[]).is_err());
        assert!(check_values("web", &["a b".into()], &[]).is_err());
        assert!(check_values("web", &[], &[("db\nx".into(), ip)]).is_err());
    }

    #[test]
    fn writes_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = EtcFiles::generate("web", &[], None, &[], "nameserver 192.0.2.53\n", &[]);
        let mounts = files.write(dir.path()).unwrap();
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("hostname")).unwrap(),
            "web\n"
        );
        assert_eq!(mounts[2].1, "/etc/resolv.conf");
    }
}
