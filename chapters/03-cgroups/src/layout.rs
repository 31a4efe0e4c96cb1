//! Which cgroup filesystems this host mounts: v2, v1, or both (hybrid).
//!
//! cgroup v1 mounts one hierarchy per controller (or per group of
//! controllers) under `/sys/fs/cgroup/<name>`; cgroup v2 mounts a single
//! unified hierarchy holding every controller. Hybrid hosts mount both: the
//! controllers live in the v1 hierarchies and the cgroup2 mount (usually
//! `/sys/fs/cgroup/unified`) holds none or few of them. The kernel says
//! which is which in `/proc/self/mountinfo`; `/proc/self/cgroup` says where
//! this process sits in each hierarchy.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The v1 controllers berth knows (named hierarchies like `name=systemd`
/// carry no controller and are ignored).
pub const V1_CONTROLLERS: &[&str] = &[
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

/// The three shapes a host can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Only cgroup2: every controller in one tree.
    V2,
    /// Only v1 hierarchies.
    V1,
    /// v1 hierarchies for the controllers, plus a cgroup2 mount beside them.
    Hybrid,
}

/// One mounted hierarchy: where it is and where berth puts its cgroups in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1: the controllers bound to it (`cpu`, or `cpu,cpuacct` when
    /// co-mounted); the unified hierarchy: the controllers it offers.
    pub controllers: Vec<String>,
    /// Where it is mounted, e.g. `/sys/fs/cgroup/memory`.
    pub mountpoint: PathBuf,
    /// The cgroup the mount shows at its mount point: `/`, unless it was
    /// mounted from inside a cgroup namespace or bind-mounted from a subtree.
    pub root: PathBuf,
    /// The directory under which berth creates cgroups, relative to the
    /// mount point ("" for the root).
    pub base: PathBuf,
}

impl Hierarchy {
    /// The directory of the cgroup `name` (e.g. `berth/abc`) in this hierarchy.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.mountpoint.join(&self.base).join(name)
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory of a cgroup as `/proc/PID/cgroup` names it (a path
    /// from the root of this process's cgroup namespace), or None when it
    /// lies outside what this mount shows.
    pub fn dir_of_path(&self, cgroup: &str) -> Option<PathBuf> {
        let relative = Path::new(cgroup).strip_prefix(&self.root).ok()?;
        Some(self.mountpoint.join(relative))
    }
}

/// The cgroup layout of this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub version: Version,
    /// The v1 hierarchies that carry at least one controller (empty on v2).
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 mount, if any (the whole story on v2; membership only on hybrid).
    pub unified: Option<Hierarchy>,
}

// ANCHOR: detect
impl Layout {
    /// Reads this host's layout from `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn detect() -> Result<Layout, Error> {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| Error::engine(format!("cannot read {path}: {e}")))
        };
        Layout::parse(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?)
    }

    /// The same, from the text of those two files.
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Layout, Error> {
        let mut v1 = Vec::new();
        let mut unified = None;
        for line in mountinfo.lines() {
            // id parent maj:min root mountpoint options ... - fstype source super-options
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split_whitespace().collect();
            let right: Vec<&str> = right.split_whitespace().collect();
            if left.len() < 5 || right.len() < 3 {
                continue;
            }
            let (root, mountpoint) = (left[3], left[4]);
            match right[0] {
                "cgroup2" if unified.is_none() => {
                    unified = Some(Hierarchy {
                        controllers: read_controllers(mountpoint),
                        mountpoint: PathBuf::from(mountpoint),
                        root: PathBuf::from(root),
                        // On v2, a cgroup that holds processes may not hand
                        // controllers down to children ("no internal
                        // processes"), and the engine's own cgroup holds at
                        // least the engine: berth's cgroups hang off the root.
                        base: PathBuf::new(),
                    });
                }
                "cgroup" => {
                    let controllers: Vec<String> = right[2]
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(String::from)
                        .collect();
                    if controllers.is_empty()
                        || v1
                            .iter()
                            .any(|h: &Hierarchy| h.mountpoint == Path::new(mountpoint))
                    {
                        continue;
                    }
                    let own = own_cgroup(proc_cgroup, |c| {
                        c.split(',')
                            .any(|name| controllers.iter().any(|k| k == name))
                    });
                    v1.push(Hierarchy {
                        base: relative_to_mount(root, own.as_deref()),
                        controllers,
                        mountpoint: PathBuf::from(mountpoint),
                        root: PathBuf::from(root),
                    });
                }
                _ => {}
            }
        }
        let version = match (v1.is_empty(), unified.is_some()) {
            (true, true) => Version::V2,
            (false, true) => Version::Hybrid,
            (false, false) => Version::V1,
            (true, false) => {
                return Err(Error::engine(
                    "no cgroup filesystem is mounted (expected cgroup2 or v1 hierarchies under /sys/fs/cgroup)",
                ));
            }
        };
        Ok(Layout {
            version,
            v1,
            unified,
        })
    }
}
// ANCHOR_END: detect

// ANCHOR: delegated
impl Layout {
    /// For an engine without root on the host (rootless): this layout with
    /// berth's cgroups under the parent of the engine's own v2 cgroup, if
    /// that parent was delegated to the engine's user (it owns the
    /// directory and its `cgroup.procs`, as systemd's `Delegate=yes` gives
    /// a user's service). There the user may make cgroups and move its own
    /// processes into them, and the parent hands its controllers down.
    /// None otherwise: on v1 and hybrid hosts the controllers' trees are
    /// root's.
    pub fn delegated(&self, proc_cgroup: &str) -> Option<Layout> {
        use std::os::unix::fs::MetadataExt;
        let unified = self
            .unified
            .as_ref()
            .filter(|_| self.version == Version::V2)?;
        let own = own_cgroup(proc_cgroup, str::is_empty)?;
        let parent = Path::new(&own).parent()?;
        let base = relative_to_mount(
            &unified.root.to_string_lossy(),
            Some(&parent.to_string_lossy()),
        );
        if base.as_os_str().is_empty() {
            // The root cgroup is never anybody's.
            return None;
        }
        let dir = unified.mountpoint.join(&base);
        let euid = nix::unistd::geteuid().as_raw();
        let owned = |file: &str| std::fs::metadata(dir.join(file)).is_ok_and(|m| m.uid() == euid);
        if !(owned("") && owned("cgroup.procs") && owned("cgroup.subtree_control")) {
            return None;
        }
        Some(Layout {
            unified: Some(Hierarchy {
                base,
                ..unified.clone()
            }),
            ..self.clone()
        })
    }

    /// [`Layout::delegated`] of this process.
    pub fn detect_delegated() -> Option<Layout> {
        let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        Layout::detect().ok()?.delegated(&proc_cgroup)
    }
}
// ANCHOR_END: delegated

/// This process's cgroup in the hierarchy whose `/proc/self/cgroup` entry
/// matches: `4:memory:/a/b` gives `/a/b`, `0::/x` (the unified one) gives `/x`.
fn own_cgroup(proc_cgroup: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        matches(controllers).then(|| path.to_string())
    })
}

/// On v1, berth nests its cgroups under the cgroup it runs in, in each
/// hierarchy: whatever limits the engine itself is under (a session, a
/// service, an outer container) keep applying to what it starts.
fn relative_to_mount(mount_root: &str, own: Option<&str>) -> PathBuf {
    let Some(own) = own else {
        return PathBuf::new();
    };
    // Inside a cgroup namespace the mount root is "/" and so is our path;
    // otherwise our path is shown from the hierarchy's real root.
    let relative = own.strip_prefix(mount_root).unwrap_or(own);
    PathBuf::from(relative.trim_start_matches('/'))
}

/// The controllers a cgroup2 mount offers (`cgroup.controllers` of its root).
fn read_controllers(mountpoint: &str) -> Vec<String> {
    std::fs::read_to_string(Path::new(mountpoint).join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

impl Layout {
    /// The v1 hierarchy carrying `controller`, if mounted.
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }

    /// Is `controller` usable on this host (v1 mounted, or offered by v2)?
    pub fn has(&self, controller: &str) -> bool {
        match self.version {
            Version::V2 => self.unified.as_ref().is_some_and(|u| u.has(controller)),
            Version::V1 | Version::Hybrid => self.v1_hierarchy(controller).is_some(),
        }
    }

    /// Every hierarchy a container's cgroup is created in: the v1 ones and
    /// the unified one (on hybrid hosts only for membership, so the
    /// container's `0::` line and its cgroup2 subtree are its own too).
    pub fn hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        self.v1.iter().chain(self.unified.iter())
    }
}

impl fmt::Display for Layout {
    /// `hybrid (v1: cpu cpuacct ...; v2 at /sys/fs/cgroup/unified: hugetlb)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v1: Vec<String> = self.v1.iter().map(|h| h.controllers.join(",")).collect();
        let v2 = |u: &Hierarchy| {
            let list = if u.controllers.is_empty() {
                "no controllers".to_string()
            } else {
                u.controllers.join(" ")
            };
            format!("v2 at {}: {list}", u.mountpoint.display())
        };
        match (self.version, &self.unified) {
            (Version::V2, Some(u)) => write!(f, "v2 ({})", v2(u)),
            (Version::Hybrid, Some(u)) => write!(f, "hybrid (v1: {}; {})", v1.join(" "), v2(u)),
            _ => write!(f, "v1 (v1: {})", v1.join(" ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/session/42
2:cpu,cpuacct:/
0::/
";

    #[test]
    fn hybrid_hosts_have_both() {
        let layout = Layout::parse(HYBRID, HYBRID_CGROUP).unwrap();
        assert_eq!(layout.version, Version::Hybrid);
        let names: Vec<String> = layout.v1.iter().map(|h| h.controllers.join(",")).collect();
        assert_eq!(names, ["cpu", "memory", "cpu,cpuacct"]);
        let memory = layout.v1_hierarchy("memory").unwrap();
        assert_eq!(memory.base, Path::new("session/42"));
        assert_eq!(
            memory.dir("berth/x"),
            Path::new("/sys/fs/cgroup/memory/session/42/berth/x")
        );
        assert_eq!(layout.v1_hierarchy("cpu").unwrap().base, Path::new(""));
        assert!(layout.has("memory"));
        assert!(!layout.has("pids"));
        let unified = layout.unified.as_ref().unwrap();
        assert_eq!(unified.mountpoint, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn pure_v2_is_one_tree() {
        let mountinfo = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = Layout::parse(mountinfo, "0::/user.slice/session-1.scope\n").unwrap();
        assert_eq!(layout.version, Version::V2);
        assert!(layout.v1.is_empty());
        // Not nested under our own (process-holding) cgroup.
        assert_eq!(layout.unified.unwrap().base, Path::new(""));
    }

    #[test]
    fn pure_v1_and_namespaced_mounts() {
        // A mount of a cgroup namespace's root: our path is shown relative to it.
        let mountinfo = "32 31 0:29 /outer /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        let layout = Layout::parse(mountinfo, "8:pids:/outer/inner\n").unwrap();
        assert_eq!(layout.version, Version::V1);
        assert_eq!(layout.v1[0].base, Path::new("inner"));
    }

    #[test]
    fn no_cgroups_is_an_engine_error() {
        let err = Layout::parse("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", "").unwrap_err();
        assert_eq!(err.code, 125);
    }
}
