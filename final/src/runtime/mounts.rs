//! config.json's mounts beyond the ones chapter 2 makes: bind mounts and
//! tmpfs, made by a child step before `pivot_root`; any other type is left
//! out with a warning.

use std::path::{Path, PathBuf};

use ch01_chroot::events::warning;
use ch02_namespaces::{ChildContext, ChildStep, StartSequence};
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Spec as Config;

use crate::Error;

/// The mounts chapter 2 makes itself (`mount-proc`, `mount-sys`,
/// `mount-dev`), so a config listing them loses nothing.
pub const MADE_BY_CHAPTER_2: [&str; 7] = [
    "/proc",
    "/sys",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys/fs/cgroup",
];

/// One mount to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// A host path (absolute; a relative source is the bundle's) bound in.
    Bind {
        source: PathBuf,
        target: PathBuf,
        recursive: bool,
        /// Flags the bind mount gets by a second, remounting call (`ro`,
        /// `nosuid`, ...): a bind takes none from the first.
        flags: MsFlags,
    },
    /// A fresh tmpfs, with its flags and its `mode=`/`size=` data.
    Tmpfs {
        target: PathBuf,
        flags: MsFlags,
        data: String,
    },
}

/// The mounts of `config` to make; each one not understood is warned about.
pub fn plan(bundle: &Path, config: &Config) -> Vec<Planned> {
    let mut planned = Vec::new();
    for m in config.mounts().clone().unwrap_or_default() {
        let target = m.destination().clone();
        if MADE_BY_CHAPTER_2.iter().any(|p| Path::new(p) == target) {
            continue;
        }
        let options = m.options().clone().unwrap_or_default();
        let has = |o: &str| options.iter().any(|x| x == o);
        let kind = m.typ().clone().unwrap_or_default();
        if kind == "bind" || has("bind") || has("rbind") {
            let Some(source) = m.source().clone() else {
                warning(format!(
                    "mount {}: a bind mount needs a source: left out",
                    target.display()
                ));
                continue;
            };
            planned.push(Planned::Bind {
                source: bundle.join(source),
                target,
                recursive: has("rbind"),
                flags: mount_options(&options).0,
            });
        } else if kind == "tmpfs" {
            let (flags, data) = mount_options(&options);
            planned.push(Planned::Tmpfs {
                target,
                flags,
                data,
            });
        } else {
            warning(format!(
                "mount {} of type {kind:?} is left out: berth-runtime makes bind and tmpfs mounts",
                target.display()
            ));
        }
    }
    planned
}

// ANCHOR: mount_options
/// A mount's options as mount(2) takes them: the flags it knows by name
/// (`nosuid`, `strictatime`, ...), and the rest as the filesystem's data
/// (`mode=755,size=65536k`). Propagation is chapter 2's business (the
/// container's mounts are private to it), so those options are dropped.
pub fn mount_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for option in options {
        let (set, clear) = match option.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" | "rbind" | "private" | "rprivate" | "shared" | "rshared" | "slave"
            | "rslave" | "unbindable" | "runbindable" | "defaults" => {
                (MsFlags::empty(), MsFlags::empty())
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, data.join(","))
}
// ANCHOR_END: mount_options

/// Adds the `config-mounts` step after chapter 2's `/dev`, before `pivot_root`.
pub fn add_step(planned: Vec<Planned>, sequence: &mut StartSequence) {
    if !planned.is_empty() {
        sequence.child_step_after("mount-dev", Box::new(ConfigMounts(planned)));
    }
}

/// Child step `config-mounts`.
struct ConfigMounts(Vec<Planned>);

impl ChildStep for ConfigMounts {
    fn name(&self) -> &str {
        "config-mounts"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        for planned in &self.0 {
            match planned {
                Planned::Bind {
                    source,
                    target,
                    recursive,
                    flags: remount,
                } => {
                    let at = ctx.resolve(target)?;
                    make_target(&at, !source.is_dir())?;
                    let mut flags = MsFlags::MS_BIND;
                    if *recursive {
                        flags |= MsFlags::MS_REC;
                    }
                    mount(Some(source), &at, None::<&str>, flags, None::<&str>)
                        .map_err(|e| fail(&at, e))?;
                    if !remount.is_empty() {
                        let again = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | *remount;
                        mount(None::<&str>, &at, None::<&str>, again, None::<&str>)
                            .map_err(|e| fail(&at, e))?;
                    }
                }
                Planned::Tmpfs {
                    target,
                    flags,
                    data,
                } => {
                    let at = ctx.resolve(target)?;
                    make_target(&at, false)?;
                    let data = (!data.is_empty()).then_some(data.as_str());
                    mount(Some("tmpfs"), &at, Some("tmpfs"), *flags, data)
                        .map_err(|e| fail(&at, e))?;
                }
            }
        }
        Ok(())
    }
}

/// Creates the mount point: a file for a file's bind mount, else a directory.
fn make_target(at: &Path, file: bool) -> Result<(), Error> {
    let made = match file {
        true => at
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| match at.exists() {
                true => Ok(()),
                false => std::fs::File::create(at).map(drop),
            }),
        false => std::fs::create_dir_all(at),
    };
    made.map_err(|e| Error::engine(format!("mount point {}: {e}", at.display())))
}

fn fail(at: &Path, e: nix::Error) -> Error {
    Error::engine(format!("mounting {}: {}", at.display(), e.desc()))
}
