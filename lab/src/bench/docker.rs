//! Docker in the bench, side by side with berth, when `dockerd` and
//! `docker` are installed (nothing is installed for it): a dockerd of the
//! bench's own, never the host's. It has its own data root, exec root,
//! pid file and socket (`docker` reaches it through `DOCKER_HOST`), its
//! default bridge is one the bench makes (`-b`, on a /24 no host route
//! uses), and it pulls the fixture image from the bench's registry.
//!
//! Docker's firewall is on, as on any Docker host, so `-p` is Docker's
//! own DNAT (and its userland proxy). Dropping it stops that dockerd by
//! its pid and puts the host back: the shims of its containerd killed by
//! pid, its mounts unmounted, the `DOCKER*` chains and every rule it added
//! that names them or its bridge deleted (found by comparing
//! `iptables-save` with the one read before it started), `FORWARD`'s
//! policy restored, the bridge deleted, and the host paths dockerd makes
//! whatever its flags say removed if they were not there before.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lab_harness::daemon::{self, DOCKERD_HOST_PATHS, HostPaths};

use crate::vm::packages::find_program;

/// The tables Docker's rules may go into.
const TABLES: [&str; 4] = ["nat", "filter", "raw", "mangle"];

/// A running dockerd of the bench's own.
pub struct Dockerd {
    dir: PathBuf,
    daemon: Option<Child>,
    docker: PathBuf,
    bridge: String,
    bridge_made: bool,
    /// `iptables-save` before dockerd started.
    saved: String,
    /// Host paths dockerd makes whatever its flags say: those that did not
    /// exist before go when this is dropped (after the body of `drop`).
    _host_paths: HostPaths,
}

impl Dockerd {
    /// Starts dockerd in `dir` with bridge `bridge`, and pulls `image` from
    /// the plain-HTTP registry at `registry`. `Ok(None)` when Docker is
    /// not installed; an error says why it cannot run here.
    pub fn start(dir: &Path, bridge: &str, registry: &str, image: &str) -> Result<Option<Dockerd>> {
        let (Some(_), Some(docker)) = (find_program("dockerd"), find_program("docker")) else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)?;
        let mut dockerd = Dockerd {
            dir: dir.to_path_buf(),
            daemon: None,
            docker,
            bridge: bridge.to_string(),
            bridge_made: false,
            saved: iptables_save()?,
            _host_paths: HostPaths::note(&DOCKERD_HOST_PATHS),
        };
        dockerd.make_bridge()?;
        let flags = [
            format!("--bridge={bridge}"),
            format!("--insecure-registry={registry}"),
        ];
        let daemon = daemon::dockerd_command(dir, &flags)?
            .spawn()
            .context("starting dockerd")?;
        dockerd.daemon = Some(daemon);
        dockerd.wait_ready()?;
        let pull = dockerd.command(&["pull", "-q", image]).output()?;
        if !pull.status.success() {
            bail!(
                "docker pull {image}: {}",
                String::from_utf8_lossy(&pull.stderr).trim()
            );
        }
        Ok(Some(dockerd))
    }

    /// `docker ARGS...` against this dockerd, quiet on stdin, output captured.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.docker);
        command
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.join("docker.sock").display()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// The bench's bridge for dockerd, on the first 10.199.N.0/24 that no
    /// host route overlaps, holding its .1.
    fn make_bridge(&mut self) -> Result<()> {
        let routes = ip(&["-4", "route", "show", "table", "all"])?;
        let taken: Vec<&str> = routes
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let third = (1..=254u8)
            .find(|n| {
                let net = Ipv4Addr::new(10, 199, *n, 0);
                !taken.iter().any(|dst| overlaps(dst, net))
            })
            .context("no free 10.199.N.0/24 for dockerd's bridge")?;
        ip(&["link", "add", &self.bridge, "type", "bridge"])?;
        self.bridge_made = true;
        ip(&[
            "addr",
            "add",
            &format!("10.199.{third}.1/24"),
            "dev",
            &self.bridge,
        ])?;
        ip(&["link", "set", &self.bridge, "up"]).map(drop)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let since = Instant::now();
        loop {
            let answered = self
                .command(&["version"])
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return Ok(());
            }
            let exited = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten());
            if exited.is_some() || since.elapsed() > Duration::from_secs(30) {
                let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
                let last = log
                    .lines()
                    .rev()
                    .find(|l| l.contains("level="))
                    .unwrap_or("");
                bail!("dockerd did not start: {}", last.trim());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Deletes what dockerd added to the ruleset: its rules that name a
    /// `DOCKER` chain or its bridge, then its chains; restores FORWARD's policy.
    fn remove_rules(&self) -> Result<()> {
        let now = iptables_save()?;
        let restore = cleanup_batch(&self.saved, &now, &self.bridge);
        if !restore.is_empty() {
            let mut child = Command::new("iptables-restore")
                .args(["-w", "--noflush"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(restore.as_bytes())?;
            let out = child.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "removing dockerd's rules: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        if let Some(policy) = forward_policy(&self.saved) {
            if forward_policy(&now).as_deref() != Some(&policy) {
                let status = Command::new("iptables")
                    .args(["-w", "-P", "FORWARD", &policy])
                    .status()?;
                if !status.success() {
                    bail!("restoring FORWARD's policy {policy} failed");
                }
            }
        }
        Ok(())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers of `run --rm` are gone; one left by a failed run goes with dockerd.
        if let Some(mut daemon) = self.daemon.take() {
            daemon::stop(&mut daemon);
        }
        daemon::kill_shims(&self.dir.join("exec"));
        daemon::unmount_under(&self.dir);
        if let Err(e) = self.remove_rules() {
            eprintln!("bench: {e:#}");
        }
        if self.bridge_made {
            if let Err(e) = ip(&["link", "del", &self.bridge]) {
                eprintln!("bench: deleting dockerd's bridge: {e:#}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `iptables-restore --noflush` batch that deletes what `now` has and
/// `before` had not: rules naming a `DOCKER*` chain or `bridge` (except in
/// chains that go), then the new `DOCKER*` chains (flushed, then deleted).
pub fn cleanup_batch(before: &str, now: &str, bridge: &str) -> String {
    let mut text = String::new();
    for table in TABLES {
        let old = table_lines(before, table);
        let new = table_lines(now, table);
        let chains: Vec<&str> = new
            .iter()
            .filter(|l| !old.contains(l))
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| c.starts_with("DOCKER"))
            .collect();
        let ours = |line: &str| {
            line.split_whitespace()
                .any(|w| w.starts_with("DOCKER") || w == bridge)
        };
        let mut lines = vec![];
        for rule in new
            .iter()
            .filter(|l| l.starts_with("-A ") && !old.contains(l))
        {
            let chain = rule.split_whitespace().nth(1).unwrap_or("");
            if ours(rule) && !chains.contains(&chain) {
                lines.push(format!("-D {}", &rule[3..]));
            }
        }
        lines.extend(chains.iter().map(|c| format!("-F {c}")));
        lines.extend(chains.iter().map(|c| format!("-X {c}")));
        if !lines.is_empty() {
            text.push_str(&format!("*{table}\n{}\nCOMMIT\n", lines.join("\n")));
        }
    }
    text
}

/// The lines of one table in `iptables-save` output.
fn table_lines<'a>(saved: &'a str, table: &str) -> Vec<&'a str> {
    let header = format!("*{table}");
    saved
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| *l != "COMMIT")
        .collect()
}

/// FORWARD's policy (`ACCEPT`, `DROP`) in `iptables-save` output.
fn forward_policy(saved: &str) -> Option<String> {
    table_lines(saved, "filter")
        .iter()
        .find_map(|l| l.strip_prefix(":FORWARD "))
        .and_then(|l| l.split_whitespace().next())
        .map(String::from)
}

/// True when route destination `dst` (`default`, `10.0.0.0/8`, `1.2.3.4`)
/// overlaps the /24 at `net`.
fn overlaps(dst: &str, net: Ipv4Addr) -> bool {
    if dst == "default" {
        return false;
    }
    let (addr, prefix) = dst.split_once('/').unwrap_or((dst, "32"));
    let (Ok(addr), Ok(prefix)) = (addr.parse::<Ipv4Addr>(), prefix.parse::<u32>()) else {
        return false;
    };
    let common = prefix.min(24);
    let mask = if common == 0 {
        0
    } else {
        u32::MAX << (32 - common)
    };
    u32::from(addr) & mask == u32::from(net) & mask
}

fn iptables_save() -> Result<String> {
    let out = Command::new("iptables-save")
        .output()
        .context("running iptables-save")?;
    if !out.status.success() {
        bail!("iptables-save failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_docker_added_is_removed() {
        let before = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:BERTH-FORWARD - [0:0]\n\
                      -A FORWARD -j BERTH-FORWARD\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";
        let now = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:BERTH-FORWARD - [0:0]\n\
                   :BERTHX-FORWARD - [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n\
                   -A FORWARD -j BERTH-FORWARD\n-A FORWARD -j BERTHX-FORWARD\n-A FORWARD -j DOCKER-USER\n\
                   -A FORWARD -o dkb1 -j DOCKER\n-A FORWARD -i dkb1 ! -o dkb1 -j ACCEPT\n\
                   -A DOCKER-USER -j RETURN\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n\
                   -A POSTROUTING -s 10.199.1.0/24 ! -o dkb1 -j MASQUERADE\nCOMMIT\n";
        assert_eq!(
            cleanup_batch(before, now, "dkb1"),
            "*nat\n-D POSTROUTING -s 10.199.1.0/24 ! -o dkb1 -j MASQUERADE\nCOMMIT\n\
             *filter\n-D FORWARD -j DOCKER-USER\n-D FORWARD -o dkb1 -j DOCKER\n\
             -D FORWARD -i dkb1 ! -o dkb1 -j ACCEPT\n-F DOCKER\n-F DOCKER-USER\n\
             -X DOCKER\n-X DOCKER-USER\nCOMMIT\n"
        );
        assert_eq!(forward_policy(before).as_deref(), Some("ACCEPT"));
        assert_eq!(forward_policy(now).as_deref(), Some("DROP"));
    }

    #[test]
    fn routes_overlap_the_bridge_subnet() {
        let net = Ipv4Addr::new(10, 199, 3, 0);
        assert!(overlaps("10.0.0.0/8", net));
        assert!(overlaps("10.199.3.7", net));
        assert!(!overlaps("10.199.4.0/24", net));
        assert!(!overlaps("default", net));
    }
}
