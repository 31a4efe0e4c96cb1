//! Facts about the host the tests compare containers against.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use ch03_cgroups::layout::V1_CONTROLLERS;

/// What "the host" looks like from the test process.
#[derive(Debug, Clone, Default)]
pub struct HostView {
    /// Inode of each `/proc/self/ns/<name>` link.
    pub namespaces: BTreeMap<String, u64>,
    /// `dev:ino` of `/`.
    pub root_id: String,
    pub hostname: String,
}

impl HostView {
    /// Reads the current process's view (the test runner's, i.e. the host's).
    pub fn current() -> HostView {
        let mut namespaces = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/ns") {
            for entry in dir.flatten() {
                if let Ok(meta) = std::fs::metadata(entry.path()) {
                    namespaces.insert(entry.file_name().to_string_lossy().into_owned(), meta.ino());
                }
            }
        }
        let root_id = std::fs::metadata("/")
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
            .unwrap_or_default();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        HostView {
            namespaces,
            root_id,
            hostname,
        }
    }
}

/// The cgroup layout of a host: what chapter 3 has to work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// Only cgroup2 at /sys/fs/cgroup.
    V2 { controllers: Vec<String> },
    /// v1 hierarchies, with a cgroup2 mount (usually /sys/fs/cgroup/unified) beside them.
    Hybrid { v1: Vec<String>, v2: Vec<String> },
    /// v1 hierarchies only.
    V1 { v1: Vec<String> },
    /// Nothing mounted.
    None,
}

impl CgroupLayout {
    /// Detects the layout from `/proc/self/mountinfo`.
    pub fn detect() -> CgroupLayout {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut v1 = Vec::new();
        let mut v2_mounts = Vec::new();
        for line in info.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mountpoint = left.split_whitespace().nth(4).unwrap_or("");
            let mut right = right.split_whitespace();
            let fstype = right.next().unwrap_or("");
            let supers = right.nth(1).unwrap_or("");
            match fstype {
                "cgroup2" => v2_mounts.push(mountpoint.to_string()),
                "cgroup" => {
                    for opt in supers.split(',') {
                        if V1_CONTROLLERS.contains(&opt) {
                            v1.push(opt.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        v1.sort();
        v1.dedup();
        let v2_controllers = |mountpoint: &str| -> Vec<String> {
            std::fs::read_to_string(format!("{mountpoint}/cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        let unified_root = v2_mounts.iter().any(|m| m == "/sys/fs/cgroup");
        match (v1.is_empty(), v2_mounts.first()) {
            (true, Some(_)) if unified_root => CgroupLayout::V2 {
                controllers: v2_controllers("/sys/fs/cgroup"),
            },
            (true, Some(m)) => CgroupLayout::V2 {
                controllers: v2_controllers(m),
            },
            (false, Some(m)) => CgroupLayout::Hybrid {
                v1,
                v2: v2_controllers(m),
            },
            (false, None) => CgroupLayout::V1 { v1 },
            (true, None) => CgroupLayout::None,
        }
    }

    /// One line for humans: `hybrid (v1: cpu memory ...; v2: hugetlb)`.
    pub fn describe(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(" ")
            }
        };
        match self {
            CgroupLayout::V2 { controllers } => format!("v2 ({})", list(controllers)),
            CgroupLayout::Hybrid { v1, v2 } => {
                format!("hybrid (v1: {}; v2: {})", list(v1), list(v2))
            }
            CgroupLayout::V1 { v1 } => format!("v1 ({})", list(v1)),
            CgroupLayout::None => "none mounted".to_string(),
        }
    }
}
