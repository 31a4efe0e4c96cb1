//! Unpacking a layer: a tar stream into a directory overlay can stack.
//!
//! A layer comes from someone else, so extraction trusts nothing: every
//! entry name must stay inside the layer directory (no `..`, no absolute
//! names), no entry may be written through a symlink, and a hardlink must
//! name a file already in the layer. Symlink *targets* are stored as they
//! are: inside the container `/bin/sh -> /bin/busybox` is resolved against
//! the container's root, and this extractor never follows one.
//!
//! Whiteouts become what overlayfs understands: `.wh.<name>` turns into a
//! character device 0/0 named `<name>`, and `.wh..wh..opq` marks its
//! directory opaque with the `trusted.overlay.opaque=y` xattr.

use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use ch04_overlay::xattr;
use tar::EntryType;

use crate::error::{Result, engine};

/// The prefix that marks a whiteout entry in a layer.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The entry that makes its directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What to do with device nodes (char and block) found in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePolicy {
    /// Create them (needs CAP_MKNOD).
    Create,
    /// Leave them out silently.
    Skip,
    /// Fail the unpack.
    Refuse,
}

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub devices: DevicePolicy,
    /// Whether to chown entries (only root can).
    pub ownership: bool,
}

impl Default for Policy {
    /// Root creates devices and preserves ownership; others skip both.
    fn default() -> Self {
        let root = nix::unistd::geteuid().is_root();
        Policy {
            devices: if root {
                DevicePolicy::Create
            } else {
                DevicePolicy::Skip
            },
            ownership: root,
        }
    }
}

// ANCHOR: safe_path
/// The entry name as a path relative to the layer root, or an error if it
/// would leave it. `./a/b` is `a/b`; `..` and absolute names are refused.
pub fn safe_relative(name: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(engine(format!(
                    "unsafe path {:?} in layer: `..` leaves the layer directory",
                    name
                )));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(engine(format!(
                    "unsafe path {:?} in layer: absolute entry names are refused",
                    name
                )));
            }
        }
    }
    Ok(out)
}

/// Creates the missing directories of `relative`'s parent under `root`,
/// refusing to pass through a symlink: a layer that plants `evil -> /etc`
/// and then writes `evil/passwd` is stopped here.
fn prepare_parent(root: &Path, relative: &Path) -> Result<()> {
    let mut current = root.to_path_buf();
    let parent = relative.parent().unwrap_or(Path::new(""));
    for component in parent.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(engine(format!(
                    "unsafe path {:?} in layer: it goes through the symlink {:?}",
                    relative,
                    current.strip_prefix(root).unwrap_or(&current)
                )));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(engine(format!(
                    "invalid layer: {:?} is not a directory",
                    current.strip_prefix(root).unwrap_or(&current)
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(|e| io_error(&current, e))?;
            }
            Err(e) => return Err(io_error(&current, e)),
        }
    }
    Ok(())
}
// ANCHOR_END: safe_path

fn io_error(path: &Path, e: io::Error) -> crate::Error {
    engine(format!("unpacking {}: {e}", path.display()))
}

fn cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| engine(format!("path {path:?} contains a NUL byte")))
}

fn check(path: &Path, rc: libc::c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io_error(path, io::Error::last_os_error()))
    }
}

fn mknod(path: &Path, kind: libc::mode_t, mode: u32, major: u32, minor: u32) -> Result<()> {
    let c = cstring(path)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: a valid NUL-terminated path; mknod has no other preconditions.
    check(path, unsafe {
        libc::mknod(c.as_ptr(), kind | (mode & 0o7777), dev)
    })
}

// ANCHOR: whiteout
/// Turns a whiteout entry into overlayfs's form. Returns false if `name`
/// is not a whiteout.
fn apply_whiteout(root: &Path, relative: &Path) -> Result<bool> {
    let Some(name) = relative.file_name().and_then(|n| n.to_str()) else {
        return Ok(false);
    };
    if !name.starts_with(WHITEOUT_PREFIX) {
        return Ok(false);
    }
    let dir = root.join(relative.parent().unwrap_or(Path::new("")));
    if name == OPAQUE_MARKER {
        // Hide everything lower layers have in this directory.
        xattr::set(&dir, OsStr::new("trusted.overlay.opaque"), b"y")
            .map_err(|e| engine(format!("marking {} opaque: {e}", dir.display())))?;
    } else if !name.starts_with(".wh..wh.") {
        // Hide `<name>` of lower layers: a 0/0 character device.
        let hidden = dir.join(&name[WHITEOUT_PREFIX.len()..]);
        remove_existing(&hidden)?;
        mknod(&hidden, libc::S_IFCHR, 0, 0, 0)
            .map_err(|e| engine(format!("{} (whiteouts need root: CAP_MKNOD)", e.message)))?;
    }
    Ok(true)
}
// ANCHOR_END: whiteout

/// A later entry replaces an earlier one with the same name.
fn remove_existing(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).map_err(|e| io_error(path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| io_error(path, e)),
        Err(_) => Ok(()),
    }
}

/// Metadata applied after an entry is written (directories: at the end,
/// so their mode and mtime survive the entries written inside them).
struct Attributes {
    path: PathBuf,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
    symlink: bool,
}

impl Attributes {
    fn apply(&self, policy: &Policy) -> Result<()> {
        let c = cstring(&self.path)?;
        if policy.ownership {
            // SAFETY: valid path; lchown does not follow symlinks.
            check(&self.path, unsafe {
                libc::lchown(c.as_ptr(), self.uid as libc::uid_t, self.gid as libc::gid_t)
            })?;
        }
        for (name, value) in &self.xattrs {
            // Where the filesystem or our privileges do not allow it, skip.
            let _ = xattr::set(&self.path, OsStr::new(name), value);
        }
        if !self.symlink {
            // After chown, which clears set-uid bits.
            // SAFETY: valid path.
            check(&self.path, unsafe {
                libc::chmod(c.as_ptr(), (self.mode & 0o7777) as libc::mode_t)
            })?;
        }
        let time = libc::timespec {
            tv_sec: self.mtime as libc::time_t,
            tv_nsec: 0,
        };
        let times = [time, time];
        // SAFETY: valid path and a two-element timespec array.
        check(&self.path, unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                c.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }
}

// ANCHOR: unpack
/// Extracts the tar stream `archive` into the existing directory `root`.
/// Returns the number of entries written. On error the caller removes
/// `root`: it is a private directory that nobody else sees yet.
pub fn unpack(archive: impl Read, root: &Path, policy: &Policy) -> Result<u64> {
    let mut archive = tar::Archive::new(archive);
    let mut directories = Vec::new();
    let mut count = 0;
    let entries = archive
        .entries()
        .map_err(|e| engine(format!("reading layer: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| engine(format!("reading layer: {e}")))?;
        let name = PathBuf::from(std::ffi::OsStr::from_bytes(&entry.path_bytes()));
        let relative = safe_relative(&name)?;
        if relative.as_os_str().is_empty() {
            continue; // "./" itself
        }
        prepare_parent(root, &relative)?;
        if apply_whiteout(root, &relative)? {
            count += 1;
            continue;
        }
        let path = root.join(&relative);
        let xattrs = xattrs(&mut entry);
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let attributes = Attributes {
            path: path.clone(),
            mode,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
            xattrs,
            symlink: kind == EntryType::Symlink,
        };
        let link_name = entry
            .link_name_bytes()
            .map(|l| PathBuf::from(std::ffi::OsStr::from_bytes(&l)));
        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => {}
                    _ => {
                        remove_existing(&path)?;
                        fs::create_dir(&path).map_err(|e| io_error(&path, e))?;
                    }
                }
                directories.push(attributes);
                count += 1;
                continue;
            }
            EntryType::Regular | EntryType::Continuous => {
                remove_existing(&path)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| io_error(&path, e))?;
                io::copy(&mut entry, &mut file).map_err(|e| io_error(&path, e))?;
            }
            EntryType::Symlink => {
                let target = link_name.ok_or_else(|| engine("symlink without target"))?;
                remove_existing(&path)?;
                symlink(&target, &path).map_err(|e| io_error(&path, e))?;
            }
            EntryType::Link => {
                let target = link_name.ok_or_else(|| engine("hardlink without target"))?;
                let source = safe_relative(&target)
                    .map_err(|e| engine(format!("hardlink {relative:?}: {}", e.message)))?;
                prepare_parent(root, &source)?;
                let source = root.join(source);
                match fs::symlink_metadata(&source) {
                    Ok(meta) if !meta.is_dir() => {}
                    _ => {
                        return Err(engine(format!(
                            "hardlink {relative:?} points to {target:?}, which is not a file in the layer"
                        )));
                    }
                }
                remove_existing(&path)?;
                fs::hard_link(&source, &path).map_err(|e| io_error(&path, e))?;
                count += 1;
                continue; // a hardlink shares its source's metadata
            }
            EntryType::Char | EntryType::Block => match policy.devices {
                DevicePolicy::Skip => continue,
                DevicePolicy::Refuse => {
                    return Err(engine(format!(
                        "device node {relative:?} refused by policy"
                    )));
                }
                DevicePolicy::Create => {
                    let major = header.device_major().ok().flatten().unwrap_or(0);
                    let minor = header.device_minor().ok().flatten().unwrap_or(0);
                    let kind = if kind == EntryType::Char {
                        libc::S_IFCHR
                    } else {
                        libc::S_IFBLK
                    };
                    remove_existing(&path)?;
                    mknod(&path, kind, mode, major, minor)?;
                }
            },
            EntryType::Fifo => {
                remove_existing(&path)?;
                mknod(&path, libc::S_IFIFO, mode, 0, 0)?;
            }
            // PAX and GNU long-name headers are consumed by the tar crate;
            // anything else (sparse files, volume labels) is not in images.
            other => {
                return Err(engine(format!(
                    "unsupported tar entry type {other:?} for {relative:?}"
                )));
            }
        }
        attributes.apply(policy)?;
        count += 1;
    }
    // Deepest first, so a read-only parent is locked only after its children.
    for dir in directories.iter().rev() {
        dir.apply(policy)?;
    }
    Ok(count)
}
// ANCHOR_END: unpack

/// The `SCHILY.xattr.*` PAX records of an entry.
fn xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return Vec::new();
    };
    extensions
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let key = e.key().ok()?.strip_prefix("SCHILY.xattr.")?.to_string();
            Some((key, e.value_bytes().to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn header(kind: EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_000_000_000);
        h
    }

    /// Writes an entry with a raw name, bypassing the tar crate's checks.
    fn raw(
        b: &mut tar::Builder<Vec<u8>>,
        kind: EntryType,
        name: &str,
        link: Option<&str>,
        data: &[u8],
    ) {
        let mut h = header(kind, data.len() as u64, 0o644);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn unpack_into(tar: &[u8]) -> (tempfile::TempDir, Result<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy {
            devices: DevicePolicy::Skip,
            ownership: false,
        };
        let result = unpack(tar, dir.path(), &policy);
        (dir, result)
    }

    #[test]
    fn safe_relative_paths() {
        assert_eq!(
            safe_relative(Path::new("./a/./b")).unwrap(),
            Path::new("a/b")
        );
        assert!(safe_relative(Path::new("a/../../b")).is_err());
        assert!(safe_relative(Path::new("../b")).is_err());
        assert!(safe_relative(Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn unpacks_files_dirs_links_and_modes() {
        let tar = tar_with(|b| {
            raw(b, EntryType::Directory, "./etc/", None, b"");
            raw(b, EntryType::Regular, "./etc/motd", None, b"hi\n");
            raw(b, EntryType::Symlink, "./bin/sh", Some("/bin/busybox"), b"");
            raw(b, EntryType::Link, "./etc/motd2", Some("./etc/motd"), b"");
        });
        let (dir, result) = unpack_into(&tar);
        assert_eq!(result.unwrap(), 4);
        let root = dir.path();
        assert_eq!(fs::read_to_string(root.join("etc/motd")).unwrap(), "hi\n");
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        use std::os::unix::fs::MetadataExt;
        let a = fs::metadata(root.join("etc/motd")).unwrap();
        let b = fs::metadata(root.join("etc/motd2")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(a.mode() & 0o7777, 0o644);
        assert_eq!(a.mtime(), 1_000_000_000);
        assert_eq!(
            fs::metadata(root.join("etc")).unwrap().mtime(),
            1_000_000_000
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_layer() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "dotdot",
                tar_with(|b| raw(b, EntryType::Regular, "../evil", None, b"x")),
            ),
            (
                "nested dotdot",
                tar_with(|b| raw(b, EntryType::Regular, "a/../../evil", None, b"x")),
            ),
            (
                "absolute",
                tar_with(|b| raw(b, EntryType::Regular, "/tmp/evil", None, b"x")),
            ),
            (
                "through absolute symlink",
                tar_with(|b| {
                    raw(b, EntryType::Symlink, "etc", Some("/etc"), b"");
                    raw(b, EntryType::Regular, "etc/evil", None, b"x");
                }),
            ),
            (
                "through relative symlink",
                tar_with(|b| {
                    raw(b, EntryType::Symlink, "up", Some("../../.."), b"");
                    raw(b, EntryType::Regular, "up/evil", None, b"x");
                }),
            ),
            (
                "hardlink outside",
                tar_with(|b| raw(b, EntryType::Link, "passwd", Some("/etc/passwd"), b"")),
            ),
            (
                "hardlink dotdot",
                tar_with(|b| raw(b, EntryType::Link, "passwd", Some("../../etc/passwd"), b"")),
            ),
            (
                "hardlink through symlink",
                tar_with(|b| {
                    raw(b, EntryType::Symlink, "etc", Some("/etc"), b"");
                    raw(b, EntryType::Link, "passwd", Some("etc/passwd"), b"");
                }),
            ),
        ];
        for (what, tar) in cases {
            let (_dir, result) = unpack_into(&tar);
            let e = result.expect_err(what);
            assert!(
                e.message.contains("unsafe path") || e.message.contains("not a file in the layer"),
                "{what}: {e}"
            );
        }
    }

    #[test]
    fn device_policy() {
        let tar = tar_with(|b| raw(b, EntryType::Char, "dev/null", None, b""));
        let (dir, result) = unpack_into(&tar);
        result.unwrap();
        assert!(!dir.path().join("dev/null").exists());
        let dir = tempfile::tempdir().unwrap();
        let refuse = Policy {
            devices: DevicePolicy::Refuse,
            ownership: false,
        };
        let e = unpack(&tar[..], dir.path(), &refuse).unwrap_err();
        assert!(e.message.contains("refused by policy"), "{e}");
    }
}
