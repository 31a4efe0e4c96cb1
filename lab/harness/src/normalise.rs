//! Normalising what a container printed, so snapshots compare what matters.
//!
//! Namespace inodes and root identities become `host` (equal to the test
//! process's own) or `new`; pids other than 0 and 1 become `<pid>`; the
//! host's hostname becomes `<host>`; long hex ids become `<id>`; fixture and
//! temporary paths become `<fixture>` and `<tmp>`; date-times become `<time>`.

use crate::host::HostView;

/// Rewrites volatile values in probe-style `key: value` text.
#[derive(Debug, Clone)]
pub struct Normaliser {
    host: HostView,
    /// Literal replacements, applied first, longest first.
    replacements: Vec<(String, String)>,
}

impl Normaliser {
    /// A normaliser comparing against the current process's view.
    pub fn new() -> Self {
        Normaliser::with_host(HostView::current())
    }

    pub fn with_host(host: HostView) -> Self {
        Normaliser {
            host,
            replacements: Vec::new(),
        }
    }

    /// Replaces every occurrence of `from` with `to` (paths, names).
    pub fn replace(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        let from = from.into();
        if !from.is_empty() {
            self.replacements.push((from, to.into()));
            self.replacements
                .sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        }
        self
    }

    /// Normalises a whole text, line by line.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            out.push_str(&self.line(line));
            out.push('\n');
        }
        out
    }

    fn line(&self, line: &str) -> String {
        let mut line = line.to_string();
        for (from, to) in &self.replacements {
            line = line.replace(from.as_str(), to);
        }
        let line = mask_temp_paths(&mask_timestamps(&line));
        let Some((key, value)) = line.split_once(": ") else {
            return mask_ids(&line);
        };
        let key = key.to_string();
        let value = value.trim();
        let new_value = if let Some(ns) = key.rsplit_once("ns.").map(|(_, n)| n) {
            match (value.parse::<u64>(), self.host.namespaces.get(ns)) {
                (Ok(inode), Some(host)) if inode == *host => "host".to_string(),
                (Ok(_), _) => "new".to_string(),
                _ => value.to_string(),
            }
        } else if key.ends_with("root.id") {
            if value == self.host.root_id {
                "host".to_string()
            } else if value.contains(':') && value.split(':').all(|p| p.parse::<u64>().is_ok()) {
                "new".to_string()
            } else {
                value.to_string()
            }
        } else if key == "pid" || key == "ppid" || key.ends_with(".pid") {
            match value.parse::<u64>() {
                Ok(0) | Ok(1) => value.to_string(),
                Ok(_) => "<pid>".to_string(),
                Err(_) => value.to_string(),
            }
        } else if key == "hostname" && value == self.host.hostname {
            "<host>".to_string()
        } else {
            mask_ids(value)
        };
        format!("{key}: {new_value}")
    }
}

impl Default for Normaliser {
    fn default() -> Self {
        Normaliser::new()
    }
}

/// Replaces RFC 3339 / ISO 8601 date-times (`2026-11-23T12:14:20.5Z`,
/// `2026-11-23 12:14:20`) with `<time>`.
pub fn mask_timestamps(text: &str) -> String {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-dd?dd:dd:dd";
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let fits = i + shape.len() <= bytes.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| match s {
                b'd' => b.is_ascii_digit(),
                b'?' => *b == b'T' || *b == b' ',
                c => c == b,
            });
        if !fits {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        i += shape.len();
        // Fractional seconds and a zone, if present.
        let rest = &text[i..];
        let tail = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || ".:+-Z".contains(*c)))
            .map_or(rest.len(), |(n, _)| n);
        i += tail;
        out.push_str("<time>");
    }
    out
}

/// Replaces paths of temporary directories made by `tempfile` or `mktemp`
/// (`/tmp/.tmpAbC123`, `/tmp/tmp.XXXXXXXX`) with `<tmp>`.
pub fn mask_temp_paths(text: &str) -> String {
    let tmp = std::env::temp_dir().display().to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(&tmp) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + tmp.len()..];
        let name_len = after
            .strip_prefix('/')
            .filter(|n| n.starts_with(".tmp") || n.starts_with("tmp."))
            .map(|n| {
                1 + n
                    .find(|c: char| c == '/' || c.is_whitespace())
                    .unwrap_or(n.len())
            });
        match name_len {
            Some(len) => {
                out.push_str("<tmp>");
                rest = &after[len..];
            }
            None => {
                out.push_str(&tmp);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces runs of 12 or more lowercase hex digits (container ids, digests).
pub fn mask_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let has_letter_or_long = run.len() >= 12 && run.chars().any(|c| c.is_ascii_alphabetic());
        if has_letter_or_long {
            out.push_str("<id>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn host() -> HostView {
        HostView {
            namespaces: BTreeMap::from([("pid".to_string(), 100), ("net".to_string(), 200)]),
            root_id: "64768:2".to_string(),
            hostname: "buildbox".to_string(),
        }
    }

    #[test]
    fn namespaces_become_host_or_new() {
        let n = Normaliser::with_host(host());
        assert_eq!(
            n.apply("ns.pid: 100\nns.net: 999\n"),
            "ns.pid: host\nns.net: new\n"
        );
    }

    #[test]
    fn roots_pids_and_hostnames() {
        let n = Normaliser::with_host(host());
        assert_eq!(n.apply("root.id: 64768:2"), "root.id: host\n");
        assert_eq!(n.apply("after.root.id: 64768:77"), "after.root.id: new\n");
        assert_eq!(
            n.apply("pid: 1\nppid: 0\npid: 4242"),
            "pid: 1\nppid: 0\npid: <pid>\n"
        );
        assert_eq!(n.apply("hostname: buildbox"), "hostname: <host>\n");
        assert_eq!(n.apply("hostname: c1"), "hostname: c1\n");
    }

    #[test]
    fn timestamps_and_temp_dirs() {
        assert_eq!(
            mask_timestamps("created: 2026-11-23T12:14:20.123456789Z ok"),
            "created: <time> ok"
        );
        assert_eq!(mask_timestamps("at 2026-11-23 12:14:20+00:00"), "at <time>");
        assert_eq!(
            mask_timestamps("10:20:30 not a date"),
            "10:20:30 not a date"
        );
        let tmp = std::env::temp_dir().display().to_string();
        assert_eq!(
            mask_temp_paths(&format!("{tmp}/.tmpAb12Cd/rootfs and {tmp}/other")),
            format!("<tmp>/rootfs and {tmp}/other")
        );
    }

    #[test]
    fn ids_and_paths() {
        let n = Normaliser::with_host(host()).replace("/tmp/.tmpAbc", "<tmp>");
        assert_eq!(
            n.apply("id: 4f9a0c2b1d3e5f60\nmode: 1777\npath: /tmp/.tmpAbc/x"),
            "id: <id>\nmode: 1777\npath: <tmp>/x\n"
        );
    }
}
