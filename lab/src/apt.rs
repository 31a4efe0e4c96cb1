//! Installing Debian packages: the one place the lab calls `apt-get install`.
//!
//! Most packages come from the distribution as configured. QEMU for the lab
//! VM is the exception on Debian 12: these hosts carry `qemu-utils` from
//! bookworm-backports, and bookworm's own `qemu-system-x86` would conflict
//! with it, so it comes from backports through a private sources list and a
//! private apt state directory. `/etc/apt` is never changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::privileged;

/// Where a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host's own apt sources.
    Distribution,
    /// Debian 12's backports, through [`PRIVATE_DIR`]'s sources list.
    BookwormBackports,
}

/// The private sources list and package lists for [`Source::BookwormBackports`].
pub const PRIVATE_DIR: &str = "/var/cache/berth-apt";

/// The host's distribution, from `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distro {
    /// `debian`, `ubuntu`, ...
    pub id: String,
    /// `bookworm`, `noble`, ...
    pub codename: String,
}

impl Distro {
    /// Reads `/etc/os-release` (an empty value when it cannot be read).
    pub fn host() -> Distro {
        Distro::parse(&std::fs::read_to_string("/etc/os-release").unwrap_or_default())
    }

    /// Parses os-release text (`KEY=value`, values optionally quoted).
    pub fn parse(text: &str) -> Distro {
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
                .unwrap_or_default()
        };
        Distro {
            id: value("ID"),
            codename: value("VERSION_CODENAME"),
        }
    }

    /// Where this host gets QEMU's system emulator from.
    pub fn qemu_source(&self) -> Source {
        if self.id == "debian" && self.codename == "bookworm" {
            Source::BookwormBackports
        } else {
            Source::Distribution
        }
    }
}

/// Debian packages from `wanted` that are not installed.
pub fn missing(wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .filter(|pkg| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", pkg])
                .output();
            !out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .map(|p| p.to_string())
        .collect()
}

/// The command a person would type to install `packages` from `source`.
pub fn install_command(packages: &[String], source: Source) -> String {
    match source {
        Source::Distribution => format!("apt-get install -y {}", packages.join(" ")),
        Source::BookwormBackports => format!(
            "apt-get install -y -t bookworm-backports {} (with bookworm-backports in the apt \
             sources; `cargo lab setup` does it for you through {PRIVATE_DIR})",
            packages.join(" ")
        ),
    }
}

/// Installs the packages of `wanted` that are missing, as root, or fails
/// with the command to run.
pub fn ensure(wanted: &[&str], source: Source) -> Result<()> {
    let missing = missing(wanted);
    if missing.is_empty() {
        return Ok(());
    }
    if !privileged::is_root() || !Path::new("/usr/bin/apt-get").exists() {
        bail!(
            "missing packages: {}; install them as root with `cargo lab setup` \
             (see the README for running it with sudo), or `{}`",
            missing.join(", "),
            install_command(&missing, source)
        );
    }
    println!("setup: installing {}", missing.join(" "));
    let private = match source {
        Source::Distribution => Vec::new(),
        Source::BookwormBackports => private_sources()?,
    };
    run_apt(&private, &["update", "-q"])?;
    let mut install: Vec<&str> = vec!["install", "-y", "-q", "--no-install-recommends"];
    if source == Source::BookwormBackports {
        install.extend(["-t", "bookworm-backports"]);
    }
    install.extend(missing.iter().map(String::as_str));
    run_apt(&private, &install)
}

// ANCHOR: private_sources
/// Writes the private sources list: the host's own `sources.list` plus
/// bookworm-backports from the host's bookworm mirror. Returns the apt
/// options that read it (with the host's `sources.list.d`) and keep the
/// package lists apart from the host's.
fn private_sources() -> Result<Vec<String>> {
    let dir = PathBuf::from(PRIVATE_DIR);
    std::fs::create_dir_all(dir.join("lists/partial"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let host_list = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let mut parts: Vec<String> = vec![host_list.clone()];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for entry in entries.flatten() {
            let path = entry.path();
            let enabled = path
                .extension()
                .is_some_and(|e| e == "list" || e == "sources");
            if enabled && let Ok(text) = std::fs::read_to_string(&path) {
                parts.push(text);
            }
        }
    }
    let Some(mirror) = parts.iter().find_map(|text| bookworm_mirror(text)) else {
        bail!(
            "no Debian bookworm mirror in /etc/apt: add bookworm-backports to the apt sources \
             and run `apt-get install -t bookworm-backports qemu-system-x86`"
        );
    };
    let key = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
    let list = format!("{host_list}\ndeb {key} {mirror} bookworm-backports main\n");
    let sources = dir.join("sources.list");
    std::fs::write(&sources, list).with_context(|| format!("writing {}", sources.display()))?;
    Ok(vec![
        format!("-oDir::Etc::SourceList={}", sources.display()),
        format!("-oDir::State::Lists={}", dir.join("lists").display()),
    ])
}

// ANCHOR_END: private_sources

/// The URI that serves the `bookworm` suite in one apt sources file, in
/// either format (one-line `deb URI SUITE ...` or deb822 stanzas).
pub fn bookworm_mirror(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        // Options in brackets may hold spaces: skip up to the closing one.
        let rest = match rest.find(']') {
            Some(end) if rest.trim_start().starts_with('[') => &rest[end + 1..],
            _ => rest,
        };
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some("bookworm")) = (words.next(), words.next()) {
            return Some(uri.to_string());
        }
    }
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = field("Enabled").is_none_or(|e| e != "no");
        let bookworm =
            field("Suites").is_some_and(|s| s.split_whitespace().any(|s| s == "bookworm"));
        if is_deb && enabled && bookworm {
            return field("URIs")?.split_whitespace().next().map(str::to_string);
        }
    }
    None
}

fn run_apt(options: &[String], args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(options)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_os_release() {
        let d = Distro::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n",
        );
        assert_eq!(d.id, "debian");
        assert_eq!(d.codename, "bookworm");
        assert_eq!(d.qemu_source(), Source::BookwormBackports);
        let u = Distro::parse("ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n");
        assert_eq!(u.id, "ubuntu");
        assert_eq!(u.qemu_source(), Source::Distribution);
        let t = Distro::parse("ID=debian\nVERSION_CODENAME=trixie\n");
        assert_eq!(t.qemu_source(), Source::Distribution);
    }

    #[test]
    fn finds_the_bookworm_mirror() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            bookworm_mirror(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let one_line =
            "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\n";
        assert_eq!(
            bookworm_mirror(one_line).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            bookworm_mirror("deb http://m.example/debian trixie main\n"),
            None
        );
        assert_eq!(
            bookworm_mirror("Types: deb\nURIs: http://x\nSuites: bookworm\nEnabled: no\n"),
            None
        );
    }

    #[test]
    fn says_what_to_type() {
        let p = vec!["qemu-system-x86".to_string()];
        assert_eq!(
            install_command(&p, Source::Distribution),
            "apt-get install -y qemu-system-x86"
        );
        assert!(install_command(&p, Source::BookwormBackports).contains("-t bookworm-backports"));
    }
}
