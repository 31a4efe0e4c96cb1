//! A cgroup: one directory per hierarchy, and the processes written into it.
//!
//! A cgroup is a directory in a cgroup filesystem. `mkdir` creates it,
//! writing a pid into its `cgroup.procs` moves that process (and every child
//! it forks afterwards) into it, the files inside set its limits and report
//! its usage, and `rmdir` removes it once no process is left. On v2 that is
//! one directory; on v1 it is one directory in each hierarchy (memory, cpu,
//! pids, ...), kept in step. `Cgroup` hides that difference: the rest of the
//! chapter asks it for "the memory controller's directory".

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Error;
use crate::layout::{Hierarchy, Layout, Version};
use crate::ownership::{BaseLock, Owner};

/// The directory every berth cgroup lives under, in every hierarchy.
pub const PARENT: &str = "berth";

/// Controllers berth enables for its children on v2.
pub const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// How long `remove` waits for processes to die and directories to empty.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A created cgroup (`berth/<id>`), removed by `remove` or, failing that, on drop.
#[derive(Debug)]
pub struct Cgroup {
    name: String,
    layout: Layout,
    /// The directories created, one per hierarchy, in `layout.hierarchies()` order.
    dirs: Vec<(Hierarchy, PathBuf)>,
    /// Our hold on each directory, which tells sweeps that its run is alive.
    owners: Vec<Owner>,
    removed: bool,
}

// ANCHOR: create
impl Cgroup {
    /// Creates the cgroup `name` (e.g. `berth/4f2a`) in every hierarchy of
    /// this host. Fails if it exists already; removes what it made on failure.
    pub fn create(name: &str) -> Result<Cgroup, Error> {
        Cgroup::create_in(&Layout::detect()?, name)
    }

    /// The same, on a layout detected earlier.
    pub fn create_in(layout: &Layout, name: &str) -> Result<Cgroup, Error> {
        check_name(name)?;
        let mut cgroup = Cgroup {
            name: name.to_string(),
            layout: layout.clone(),
            dirs: Vec::new(),
            owners: Vec::new(),
            removed: false,
        };
        for hierarchy in layout.hierarchies() {
            // On failure, `cgroup` drops here and removes what exists so far.
            let (dir, owner) = make_dir(layout, hierarchy, name)?;
            cgroup.dirs.push((hierarchy.clone(), dir));
            cgroup.owners.push(owner);
        }
        Ok(cgroup)
    }

    /// A handle on the cgroup `name` that another process created and
    /// owns (an engine's monitor): to read it, freeze it or change its
    /// limits. Dropping it leaves the cgroup alone.
    pub fn open(name: &str) -> Result<Cgroup, Error> {
        check_name(name)?;
        let layout = Layout::detect()?;
        let dirs: Vec<_> = layout
            .hierarchies()
            .map(|h| (h.clone(), h.dir(name)))
            .collect();
        if !dirs.iter().any(|(_, dir)| dir.is_dir()) {
            return Err(Error::not_found(format!("no cgroup {name}")));
        }
        Ok(Cgroup {
            name: name.to_string(),
            layout,
            dirs,
            owners: Vec::new(),
            removed: true,
        })
    }

    /// [`Cgroup::open`] of container `id`'s cgroup, `berth/<id>` (from
    /// chapter 4 on, a container's cgroup is named after its id).
    pub fn of_container(id: &str) -> Result<Cgroup, Error> {
        Cgroup::open(&format!("{PARENT}/{id}"))
    }

    /// Moves process `pid` into this cgroup in every hierarchy. Its future
    /// children are born inside.
    pub fn add_process(&self, pid: Pid) -> Result<(), Error> {
        for (_, dir) in &self.dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }
}

/// Makes `<base>/<name>` in one hierarchy and claims it. The base lock,
/// held shared until the cgroup exists, keeps every sweep and removal off
/// the levels above (`berth`) while they are made and prepared: they need
/// it exclusive.
fn make_dir(layout: &Layout, hierarchy: &Hierarchy, name: &str) -> Result<(PathBuf, Owner), Error> {
    let made = {
        let _creating = BaseLock::shared(hierarchy)?;
        make_levels(layout, hierarchy, name)
    };
    if made.is_err() {
        // Levels above made for nothing: removed again, unless in use.
        remove_empty_parents(hierarchy, &hierarchy.dir(name));
    }
    made
}

/// Makes `name`'s levels, preparing each new one the way its controllers
/// need before processes may join.
fn make_levels(
    layout: &Layout,
    hierarchy: &Hierarchy,
    name: &str,
) -> Result<(PathBuf, Owner), Error> {
    let pure_v2 = layout.version == Version::V2;
    let levels: Vec<&str> = name.split('/').collect();
    let mut dir = hierarchy.mountpoint.join(&hierarchy.base);
    for (i, level) in levels.iter().enumerate() {
        let leaf = i + 1 == levels.len();
        let parent = dir.clone();
        dir.push(level);
        if pure_v2 {
            // v2: a child gets only the controllers its parent hands down.
            enable_controllers(&parent)?;
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // A parent another run made: prepared below if it is not yet.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && !leaf => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(Error::conflict(format!(
                    "cgroup {name} already exists ({})",
                    dir.display()
                )));
            }
            Err(e) => return Err(io_error("cannot create cgroup", &dir, &e)),
        }
        if hierarchy.has("cpuset") && !pure_v2 {
            // v1 cpuset: a new cgroup starts with no CPUs and no memory
            // nodes, and no task can join until both are set.
            if let Err(e) = inherit_cpuset(&parent, &dir) {
                if leaf {
                    let _ = std::fs::remove_dir(&dir);
                }
                return Err(e);
            }
        }
    }
    // Ours from now on, whether or not a process ever joins.
    match Owner::claim(&dir) {
        Ok(owner) => Ok((dir, owner)),
        Err(e) => {
            let _ = std::fs::remove_dir(&dir);
            Err(e)
        }
    }
}
// ANCHOR_END: create

/// Hands berth's controllers down from `dir` to its children (v2).
fn enable_controllers(dir: &Path) -> Result<(), Error> {
    let offered = read_file(&dir.join("cgroup.controllers"))?;
    let enabled = read_file(&dir.join("cgroup.subtree_control"))?;
    for controller in V2_CONTROLLERS {
        let offered = offered.split_whitespace().any(|c| c == *controller);
        let on = enabled.split_whitespace().any(|c| c == *controller);
        if offered && !on {
            write_file(
                &dir.join("cgroup.subtree_control"),
                &format!("+{controller}"),
            )?;
        }
    }
    Ok(())
}

// ANCHOR: inherit_cpuset
/// Copies `cpuset.cpus` and `cpuset.mems` from `parent` into a new v1 cpuset.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<(), Error> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read_file(&dir.join(file))?.trim().is_empty() {
            let value = read_file(&parent.join(file))?;
            write_file(&dir.join(file), value.trim())?;
        }
    }
    Ok(())
}
// ANCHOR_END: inherit_cpuset

impl Cgroup {
    /// The name given to `create` (`berth/<id>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's layout this cgroup was created on.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// True on a pure cgroup v2 host (one directory holds every controller).
    pub fn is_v2(&self) -> bool {
        self.layout.version == Version::V2
    }

    /// Every directory of this cgroup with its hierarchy.
    pub fn dirs(&self) -> &[(Hierarchy, PathBuf)] {
        &self.dirs
    }

    /// The directory holding `controller`'s files: the one directory on v2,
    /// the controller's own hierarchy on v1 and hybrid hosts.
    pub fn dir_of(&self, controller: &str) -> Result<&Path, Error> {
        let found = if self.is_v2() {
            self.dirs.first().filter(|_| self.layout.has(controller))
        } else {
            self.dirs
                .iter()
                .find(|(h, _)| h.has(controller) && self.layout.v1.contains(h))
        };
        found.map(|(_, dir)| dir.as_path()).ok_or_else(|| {
            Error::engine(format!(
                "the {controller} controller is not available on this host ({})",
                self.layout
            ))
        })
    }

    /// The v2 directory, whose core files (`cgroup.freeze`, `cgroup.kill`,
    /// `cgroup.events`) need no controller. `None` on v1 and hybrid hosts.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.dirs
            .first()
            .filter(|_| self.is_v2())
            .map(|(_, dir)| dir.as_path())
    }

    /// Writes `value` into `controller`'s `file`.
    pub fn write(&self, controller: &str, file: &str, value: impl ToString) -> Result<(), Error> {
        write_file(&self.dir_of(controller)?.join(file), &value.to_string())
    }

    /// Reads `controller`'s `file`.
    pub fn read(&self, controller: &str, file: &str) -> Result<String, Error> {
        read_file(&self.dir_of(controller)?.join(file))
    }

    /// Does `controller`'s directory have `file` (kernel features vary)?
    pub fn has_file(&self, controller: &str, file: &str) -> bool {
        self.dir_of(controller)
            .is_ok_and(|dir| dir.join(file).exists())
    }

    /// The processes in this cgroup, in any of its hierarchies.
    pub fn procs(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = Vec::new();
        for (_, dir) in &self.dirs {
            let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
        pids.sort_by_key(|p| p.as_raw());
        pids.dedup();
        pids
    }
}

// ANCHOR: remove
impl Cgroup {
    /// Kills every process still inside, then removes the directories
    /// (and the `berth` parent, once empty) in every hierarchy.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        self.remove_dirs()
    }

    /// Sends SIGKILL to every process inside and waits until none is left.
    pub fn kill_all(&self) -> Result<(), Error> {
        if let Some(kill_file) = self
            .v2_dir()
            .map(|d| d.join("cgroup.kill"))
            .filter(|f| f.exists())
        {
            // Linux 5.14+: one write kills the whole subtree, forks included.
            write_file(&kill_file, "1")?;
        } else {
            // Freeze first so nothing forks between reading the list and
            // the kills (a fork bomb would), kill, then thaw: a frozen
            // process handles its SIGKILL only once it runs again. Thaw
            // even if freezing timed out: it may still be under way.
            let _ = self.freeze();
            for pid in self.procs() {
                let _ = kill(pid, Signal::SIGKILL);
            }
            self.request_thaw();
        }
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        while !self.procs().is_empty() {
            if Instant::now() > deadline {
                return Err(Error::engine(format!(
                    "processes in cgroup {} survived SIGKILL: {:?}",
                    self.name,
                    self.procs()
                )));
            }
            self.request_thaw();
            for pid in self.procs() {
                let _ = kill(pid, Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Asks the kernel to thaw the cgroup, without waiting (best effort).
    fn request_thaw(&self) {
        match self.v2_dir() {
            Some(dir) => {
                let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
            }
            None => {
                if let Ok(dir) = self.dir_of("freezer") {
                    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                }
            }
        }
    }

    fn remove_dirs(&mut self) -> Result<(), Error> {
        let killed = self.kill_all();
        let mut failure = killed.err();
        // Leaf first: a v1 hierarchy's directory can only go once empty.
        for (hierarchy, dir) in self.dirs.drain(..).rev() {
            if let Err(e) = rmdir_retrying(&dir) {
                failure.get_or_insert(e);
                continue;
            }
            remove_empty_parents(&hierarchy, &dir);
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Removes the now-empty levels above `dir` up to the base (`berth`), if no
/// other container uses them, holding the base lock exclusive: never while
/// a concurrent creation is making or preparing them.
fn remove_empty_parents(hierarchy: &Hierarchy, dir: &Path) {
    let Ok(_removing) = BaseLock::exclusive(hierarchy) else {
        return;
    };
    let base = hierarchy.mountpoint.join(&hierarchy.base);
    let mut parent = dir.parent();
    while let Some(p) = parent.filter(|p| p.starts_with(&base) && *p != base) {
        if std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
}

/// `rmdir`, retried briefly on EBUSY: the kernel may still be tearing down
/// the last process that left.
fn rmdir_retrying(dir: &Path) -> Result<(), Error> {
    let deadline = Instant::now() + REMOVE_TIMEOUT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(io_error("cannot remove cgroup", dir, &e)),
        }
    }
}
// ANCHOR_END: remove

impl Drop for Cgroup {
    /// The safety net: a cgroup never outlives the value that created it,
    /// whatever path (error, panic) the caller took.
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.remove_dirs();
        }
    }
}

/// A cgroup name is relative and plain: `berth/abc`, never `../x` or `/x`.
fn check_name(name: &str) -> Result<(), Error> {
    let plain = !name.is_empty()
        && !name.ends_with('/')
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && !name.contains("//");
    if plain {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid cgroup name {name:?}")))
    }
}

/// Writes a cgroup file; the error names the file and the kernel's reason.
pub fn write_file(path: &Path, value: &str) -> Result<(), Error> {
    std::fs::write(path, value).map_err(|e| {
        Error::engine(format!(
            "cannot write {value:?} to {}: {}",
            path.display(),
            describe(&e)
        ))
    })
}

/// Reads a cgroup file.
pub fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| io_error("cannot read", path, &e))
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::engine(format!("{what} {}: {}", path.display(), describe(e)))
}

/// The kernel's short reason (`Device or resource busy`), without Rust's `(os error 16)`.
pub fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_relative_paths() {
        assert!(check_name("berth/abc").is_ok());
        assert!(check_name("berth/test-1-2").is_ok());
        for bad in ["", "/berth/x", "berth/../x", "berth//x", "berth/", "./x"] {
            assert_eq!(check_name(bad).unwrap_err().code, 125, "{bad}");
        }
    }

    /// A v1 cpuset starts empty and must inherit its parent's CPUs and
    /// memory nodes; one it was given is kept. Plain files stand in for the
    /// cgroup files, so this runs on every host, whatever its layout.
    #[test]
    fn inherit_cpuset_fills_only_what_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (parent, child) = (dir.path().join("berth"), dir.path().join("berth/c1"));
        std::fs::create_dir_all(&child).unwrap();
        std::fs::write(parent.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(parent.join("cpuset.mems"), "0\n").unwrap();
        std::fs::write(child.join("cpuset.cpus"), "\n").unwrap();
        std::fs::write(child.join("cpuset.mems"), "\n").unwrap();
        inherit_cpuset(&parent, &child).unwrap();
        let read = |f: &str| std::fs::read_to_string(child.join(f)).unwrap();
        assert_eq!(
            (read("cpuset.cpus").trim(), read("cpuset.mems").trim()),
            ("0-1", "0")
        );
        std::fs::write(child.join("cpuset.cpus"), "1\n").unwrap();
        inherit_cpuset(&parent, &child).unwrap();
        assert_eq!(
            read("cpuset.cpus").trim(),
            "1",
            "a cpuset it was given is kept"
        );
    }
}
