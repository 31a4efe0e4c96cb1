//! The image's user: looked up in the container's own `/etc/passwd` and
//! `/etc/group`, then taken on by the container's process just before exec.
//!
//! The files are read from the host through the container's root with
//! `openat2(RESOLVE_IN_ROOT)`: an image whose `/etc/passwd` is a symlink to
//! `/etc/shadow` gets its own root's `/etc/shadow`, never the host's.

use std::io::Read;
use std::path::Path;

use ch02_namespaces::{ChildContext, ChildStep};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};

use crate::error::{Error, Result, engine};
use crate::runconfig::{User, resolve_user};

/// Reads `inside` (an absolute path in the container) from the root
/// filesystem at `rootfs`, resolving every symlink inside that root.
/// A missing file reads as empty, as Docker treats a missing passwd.
pub fn read_in_root(rootfs: &Path, inside: &str) -> Result<String> {
    let root = std::fs::File::open(rootfs)
        .map_err(|e| engine(format!("opening {}: {e}", rootfs.display())))?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = match openat2(&root, inside, how) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(String::new()),
        Err(e) => {
            return Err(engine(format!(
                "reading {inside} of the image: {}",
                e.desc()
            )));
        }
    };
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(16 << 20)
        .read_to_string(&mut text)
        .map_err(|e| engine(format!("reading {inside} of the image: {e}")))?;
    Ok(text)
}

// ANCHOR: lookup
/// Resolves `user[:group]` against the container's root at `rootfs`.
pub fn lookup(rootfs: &Path, spec: &str) -> Result<User> {
    let passwd = read_in_root(rootfs, "/etc/passwd")?;
    let group = read_in_root(rootfs, "/etc/group")?;
    resolve_user(spec, &passwd, &group)
}
// ANCHOR_END: lookup

/// Child step `user`, the last before exec: the groups, then the group id,
/// then the user id (after which the process may no longer change them).
pub struct SwitchUser(pub User);

impl ChildStep for SwitchUser {
    fn name(&self) -> &str {
        "user"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> std::result::Result<(), Error> {
        let user = &self.0;
        let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        match setgroups(&groups) {
            Ok(()) => {}
            // A rootless engine's user namespace denies setgroups: the
            // container keeps the (unmapped) groups it has.
            Err(nix::Error::EPERM) if setgroups_denied() => {}
            Err(e) => return Err(engine(format!("setgroups: {}", e.desc()))),
        }
        let gid = Gid::from_raw(user.gid);
        setresgid(gid, gid, gid)
            .map_err(|e| engine(format!("setgid {}: {}", user.gid, e.desc())))?;
        let uid = Uid::from_raw(user.uid);
        setresuid(uid, uid, uid)
            .map_err(|e| engine(format!("setuid {}: {}", user.uid, e.desc())))?;
        // Changing credentials cleared the parent-death signal: set it again.
        ctx.spec.renew_death_signal()
    }
}

/// Whether this user namespace refuses `setgroups` for good.
fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// Child step `workdir`, after `pivot_root`: creates the working directory
/// when the image or `-w` names one that does not exist, as Docker does.
pub struct MakeWorkdir;

impl ChildStep for MakeWorkdir {
    fn name(&self) -> &str {
        "workdir"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> std::result::Result<(), Error> {
        let dir = ctx.path(&ctx.spec.cwd);
        if !dir.is_dir() {
            // A read-only root cannot take it: chdir then says what is missing.
            let _ = std::fs::create_dir_all(&dir);
        }
        Ok(())
    }
}
