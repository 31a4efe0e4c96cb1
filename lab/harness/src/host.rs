//! Facts about the host the tests compare containers against.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The cgroup v1 controllers the tests look for. The harness keeps its own
/// list rather than chapter 3's: it is the tests' independent view of the
/// host, and it must build while a learner's chapter 3 does not.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "pids",
    "hugetlb",
    "perf_event",
    "rdma",
    "misc",
];

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

/// Every `berth` directory within four levels of every cgroup mount: where
/// berth's containers' cgroups live, in each hierarchy.
pub fn berth_cgroups() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = right.split_whitespace().next().unwrap_or("");
        if let (Some(mountpoint), "cgroup" | "cgroup2") = (left.split_whitespace().nth(4), fstype) {
            find_named(Path::new(mountpoint), "berth", 4, &mut found);
        }
    }
    found
}

fn find_named(dir: &Path, name: &str, depth: u32, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name() == name {
            found.push(path);
        } else if depth > 0 {
            find_named(&path, name, depth - 1, found);
        }
    }
}
