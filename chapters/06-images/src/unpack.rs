//! Unpacking a layer: a tar stream into a directory overlay can stack.
//!
//! A layer comes from someone else, so extraction trusts nothing: every
//! entry name must stay inside the layer directory (no `..`, no absolute
//! names), and a hardlink must name a file already in the layer. Symlink
//! *targets* are stored as they are: inside the container
//! `/bin/sh -> /bin/busybox` is resolved against the container's root.
//!
//! This extractor never resolves a path through a symlink at all. It holds
//! the layer directory open and reaches every entry one name at a time
//! from a handle on its parent directory (`openat` with `O_NOFOLLOW`), and
//! creates, removes and changes entries relative to that handle (`mkdirat`,
//! `unlinkat`, `fchownat`, `utimensat` with `AT_SYMLINK_NOFOLLOW`, chmod on
//! an `O_PATH | O_NOFOLLOW` handle of the entry itself). A later entry may
//! replace an earlier one by a symlink to the host, so the attributes of
//! directories, applied at the end, go only to the very directory that was
//! created (same inode), found again the same careful way.
//!
//! Whiteouts become what overlayfs understands: `.wh.<name>` turns into a
//! character device 0/0 named `<name>`, and `.wh..wh..opq` marks its
//! directory opaque with the `trusted.overlay.opaque=y` xattr. A layer's
//! own extended attributes are filtered (see [`xattr_allowed`]): overlay's
//! markers come from whiteouts only, never from a layer's say-so.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
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

/// The layer directory being unpacked, held open: every path below it is
/// walked from this handle one name at a time, never through a symlink.
struct LayerDir<'p> {
    fd: OwnedFd,
    path: &'p Path,
    space: Space,
}

impl LayerDir<'_> {
    /// The directory that holds `relative`, creating missing ones. A
    /// symlink on the way is refused: a layer that plants `evil -> /etc`
    /// and then writes `evil/passwd` is stopped here.
    fn parent_of(&self, relative: &Path) -> Result<OwnedFd> {
        let mut dir = dup(&self.fd).map_err(|e| self.error(relative, e))?;
        let mut walked = PathBuf::new();
        for part in relative.parent().unwrap_or(Path::new("")).iter() {
            walked.push(part);
            let name = cname(part)?;
            match lstat_at(fd(&dir), &name) {
                Ok(st) if is(&st, libc::S_IFDIR) => {}
                Ok(st) if is(&st, libc::S_IFLNK) => {
                    return Err(engine(format!(
                        "unsafe path {relative:?} in layer: it goes through the symlink {walked:?}"
                    )));
                }
                Ok(_) => {
                    return Err(engine(format!(
                        "invalid layer: {walked:?} is not a directory"
                    )));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // SAFETY: a directory fd and a NUL-terminated single name.
                    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) })
                        .map_err(|e| self.error(&walked, e))?;
                }
                Err(e) => return Err(self.error(&walked, e)),
            }
            // O_NOFOLLOW | O_DIRECTORY: had it been swapped for a symlink
            // since the lstat, this fails instead of following it.
            dir = open_at(fd(&dir), &name, libc::O_PATH | libc::O_DIRECTORY)
                .map_err(|e| self.error(&walked, e))?;
        }
        Ok(dir)
    }

    /// The directory that holds `relative` if every directory on the way
    /// is still a real directory; `None` if anything moved.
    fn existing_parent_of(&self, relative: &Path) -> Option<OwnedFd> {
        let mut dir = dup(&self.fd).ok()?;
        for part in relative.parent().unwrap_or(Path::new("")).iter() {
            let name = cname(part).ok()?;
            dir = open_at(fd(&dir), &name, libc::O_PATH | libc::O_DIRECTORY).ok()?;
        }
        Some(dir)
    }

    /// A directory on the layer's filesystem that outlives a failed unpack
    /// (the staging directory is removed): the one to name in errors.
    fn filesystem(&self) -> &Path {
        self.path.parent().unwrap_or(self.path)
    }

    /// An error about `relative`, naming the entry; a full disk is said so.
    fn error(&self, relative: &Path, e: io::Error) -> crate::Error {
        if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)) {
            return engine(format!(
                "not enough disk space: writing {relative:?} filled the filesystem of {}; \
                 free space there or use a state root on a larger filesystem",
                self.filesystem().display()
            ));
        }
        engine(format!(
            "unpacking {}: {e}",
            self.path.join(relative).display()
        ))
    }
}
// ANCHOR_END: safe_path

/// Free space the unpack may still use: checked against each file's size
/// before a byte of it is written, so a layer bigger than the disk stops
/// before it fills the disk (the tar header says how big a file will be).
struct Space {
    left: std::cell::Cell<u64>,
}

impl Space {
    /// What unprivileged users may still write on `path`'s filesystem
    /// (`f_bavail`): the blocks reserved for root stay for the host.
    fn of(path: &Path) -> Result<Space> {
        let stat = nix::sys::statvfs::statvfs(path)
            .map_err(|e| engine(format!("{}: {e}", path.display())))?;
        let left = (stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64);
        Ok(Space {
            left: std::cell::Cell::new(left),
        })
    }

    /// Takes `bytes` (plus a block for the inode's metadata) for `relative`.
    fn take(&self, relative: &Path, bytes: u64, root: &Path) -> Result<()> {
        let needed = bytes.saturating_add(4096);
        let left = self.left.get();
        if needed > left {
            return Err(engine(format!(
                "not enough disk space: {relative:?} needs {} but only {} are left on the \
                 filesystem of {}; free space there or use a state root on a larger filesystem",
                mib(needed),
                mib(left),
                root.display()
            )));
        }
        self.left.set(left - needed);
        Ok(())
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn cname(name: &OsStr) -> Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| engine(format!("entry name {name:?} contains a NUL byte")))
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn fd(owned: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    owned.as_fd()
}

fn dup(owned: &OwnedFd) -> io::Result<OwnedFd> {
    owned.try_clone()
}

/// `openat(dir, name)` that never follows a symlink in `name` (one name).
fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; the returned fd is owned from here on.
    let raw = cvt(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        )
    })?;
    // SAFETY: a fresh fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a NUL-terminated name and a stat buffer to fill.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled the buffer.
    Ok(unsafe { st.assume_init() })
}

fn fstat(handle: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: an fd (O_PATH is fine for fstat) and a buffer to fill.
    cvt(unsafe { libc::fstat(handle.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded.
    Ok(unsafe { st.assume_init() })
}

fn is(st: &libc::stat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

/// `/proc/self/fd/<dir>/<name>`: `name` inside the directory `dir` holds,
/// for the calls that only take paths (xattrs). The kernel resolves the fd
/// to that very directory; only `name`, a single component, is looked up.
fn path_in(dir: BorrowedFd<'_>, name: &CStr) -> PathBuf {
    Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .join(OsStr::from_bytes(name.to_bytes()))
}

/// A later entry replaces an earlier one with the same name (a directory
/// with all it holds: std's `remove_dir_all` never follows symlinks).
fn remove_existing(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match lstat_at(dir, name) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
        Ok(st) if is(&st, libc::S_IFDIR) => std::fs::remove_dir_all(path_in(dir, name)),
        // SAFETY: a NUL-terminated single name relative to a directory fd.
        Ok(_) => cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }).map(drop),
    }
}

fn mknod_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    kind: libc::mode_t,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let dev = libc::makedev(major, minor);
    // SAFETY: a NUL-terminated single name relative to a directory fd.
    cvt(unsafe {
        libc::mknodat(
            dir.as_raw_fd(),
            name.as_ptr(),
            kind | (mode & 0o7777) as libc::mode_t,
            dev,
        )
    })
    .map(drop)
}

// ANCHOR: whiteout
/// What a `.wh.` entry asks for.
enum Whiteout<'n> {
    /// `.wh..wh..opq`: hide everything lower layers have in this directory.
    Opaque,
    /// `.wh.<name>`: hide `<name>` of lower layers.
    Hide(&'n [u8]),
}

/// Reads a whiteout name; `None` if `name` is not one. A whiteout must
/// name an entry of its own directory: `.wh.`, `.wh..`, `.wh...` (which
/// would hide the directory itself or its parent) and other `.wh..wh.`
/// names than the opaque marker are refused, naming the entry.
fn whiteout<'n>(name: &'n [u8], relative: &Path) -> Result<Option<Whiteout<'n>>> {
    let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
        return Ok(None);
    };
    if name == OPAQUE_MARKER.as_bytes() {
        return Ok(Some(Whiteout::Opaque));
    }
    if hidden.is_empty()
        || hidden == b"."
        || hidden == b".."
        || hidden.starts_with(WHITEOUT_PREFIX.as_bytes())
    {
        return Err(engine(format!(
            "invalid whiteout {:?} in layer: it names no entry inside the layer \
             (only .wh.<name> and {OPAQUE_MARKER} are whiteouts)",
            relative.display().to_string()
        )));
    }
    Ok(Some(Whiteout::Hide(hidden)))
}

/// Turns a whiteout into overlayfs's form, in the directory `dir` holds.
fn apply_whiteout(dir: BorrowedFd<'_>, whiteout: Whiteout<'_>) -> io::Result<()> {
    match whiteout {
        Whiteout::Opaque => xattr::set(
            &path_in(dir, c"."),
            OsStr::new("trusted.overlay.opaque"),
            b"y",
        ),
        Whiteout::Hide(hidden) => {
            let hidden = CString::new(hidden).map_err(io::Error::other)?;
            remove_existing(dir, &hidden)?;
            // A 0/0 character device: overlay's whiteout.
            mknod_at(dir, &hidden, libc::S_IFCHR, 0, 0, 0)
        }
    }
}
// ANCHOR_END: whiteout

// ANCHOR: xattrs
/// Whether a layer may set the extended attribute `name`. Overlay reads
/// its own attributes (`trusted.overlay.*`, or `user.overlay.*` with
/// `userxattr`) as instructions (opaque, redirect to another path,
/// metacopy, origin), so a layer never sets them: opaque directories come
/// from `.wh..wh..opq` only. Other `trusted.*` are for privileged host
/// tools, and `security.*` labels (SELinux, IMA/EVM) are the host's
/// policy, not the image's; they are dropped too. What stays is what
/// images legitimately carry: `user.*` data, file capabilities (bounded
/// by the container's capability set) and POSIX ACLs.
pub fn xattr_allowed(name: &str) -> bool {
    (name.starts_with("user.") && !name.starts_with("user.overlay."))
        || name == "security.capability"
        || name == "system.posix_acl_access"
        || name == "system.posix_acl_default"
}
// ANCHOR_END: xattrs

/// An entry's metadata from its tar header.
struct Attributes {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: Vec<(String, Vec<u8>)>,
}

// ANCHOR: attributes
impl Attributes {
    /// Applies the metadata to the entry `name` of the directory `dir`
    /// holds, which the caller made (or found again, same inode). Nothing
    /// here follows a symlink: ownership and times are set with
    /// `AT_SYMLINK_NOFOLLOW`, xattrs with `lsetxattr`, and the mode on an
    /// `O_PATH | O_NOFOLLOW` handle of the entry once it is known not to be
    /// a symlink (symlinks have no mode of their own).
    fn apply(&self, dir: BorrowedFd<'_>, name: &CStr, policy: &Policy) -> io::Result<()> {
        let at = dir.as_raw_fd();
        if policy.ownership {
            // SAFETY: a NUL-terminated single name relative to a directory fd.
            cvt(unsafe {
                libc::fchownat(
                    at,
                    name.as_ptr(),
                    self.uid as libc::uid_t,
                    self.gid as libc::gid_t,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })?;
        }
        // After chown, which clears file capabilities.
        for (key, value) in &self.xattrs {
            // Where the filesystem or our privileges do not allow it, skip;
            // any other failure is the unpack's.
            match xattr::set(&path_in(dir, name), OsStr::new(key), value) {
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOTSUP | libc::EPERM | libc::EACCES)
                    ) => {}
                other => other.map_err(|e| {
                    io::Error::new(e.kind(), format!("setting the attribute {key}: {e}"))
                })?,
            }
        }
        let handle = open_at(dir, name, libc::O_PATH)?;
        if !is(&fstat(fd(&handle))?, libc::S_IFLNK) {
            // After chown, which clears set-uid bits. The magic link
            // /proc/self/fd/<handle> is this inode, never a path again.
            let path = CString::new(format!("/proc/self/fd/{}", handle.as_raw_fd()))
                .expect("no NUL in a number");
            // SAFETY: a NUL-terminated path.
            cvt(unsafe { libc::chmod(path.as_ptr(), (self.mode & 0o7777) as libc::mode_t) })?;
        }
        let time = libc::timespec {
            tv_sec: self.mtime as libc::time_t,
            tv_nsec: 0,
        };
        let times = [time, time];
        // SAFETY: a NUL-terminated name and a two-element timespec array.
        cvt(unsafe {
            libc::utimensat(at, name.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
        })
        .map(drop)
    }
}
// ANCHOR_END: attributes

/// A directory's attributes, applied after everything inside it was
/// written, to the directory the entry created and to nothing else.
struct Deferred {
    dev: libc::dev_t,
    ino: libc::ino_t,
    attributes: Attributes,
}

// ANCHOR: unpack
/// Extracts the tar stream `archive` into the existing directory `root`.
/// Returns the number of entries written. On error the caller removes
/// `root`: it is a private directory that nobody else sees yet.
pub fn unpack(archive: impl Read, root: &Path, policy: &Policy) -> Result<u64> {
    let layer = LayerDir {
        fd: File::open(root)
            .map(OwnedFd::from)
            .map_err(|e| engine(format!("{}: {e}", root.display())))?,
        path: root,
        space: Space::of(root)?,
    };
    unpack_into(archive, layer, policy)
}

fn unpack_into(archive: impl Read, layer: LayerDir<'_>, policy: &Policy) -> Result<u64> {
    let mut archive = tar::Archive::new(archive);
    // By path: if a directory is declared twice, the later entry wins.
    let mut directories: BTreeMap<PathBuf, Deferred> = BTreeMap::new();
    let mut count = 0;
    let entries = archive
        .entries()
        .map_err(|e| engine(format!("reading layer: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| engine(format!("reading layer: {e}")))?;
        let name = PathBuf::from(OsStr::from_bytes(&entry.path_bytes()));
        let relative = safe_relative(&name)?;
        let Some(file_name) = relative.file_name() else {
            continue; // "./" itself
        };
        let file_name = file_name.to_owned();
        let whiteout = whiteout(file_name.as_bytes(), &relative)?;
        let dir = layer.parent_of(&relative)?;
        let error = |e| layer.error(&relative, e);
        if let Some(whiteout) = whiteout {
            apply_whiteout(fd(&dir), whiteout).map_err(|e| {
                engine(format!(
                    "{} (whiteouts need root: CAP_MKNOD)",
                    layer.error(&relative, e).message
                ))
            })?;
            count += 1;
            continue;
        }
        let name = cname(&file_name)?;
        let xattrs = xattrs(&mut entry);
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let attributes = Attributes {
            mode,
            uid: header.uid().unwrap_or(0),
            gid: header.gid().unwrap_or(0),
            mtime: header.mtime().unwrap_or(0),
            xattrs,
        };
        let link_name = entry
            .link_name_bytes()
            .map(|l| PathBuf::from(OsStr::from_bytes(&l)));
        match kind {
            EntryType::Directory => {
                let st = match lstat_at(fd(&dir), &name) {
                    Ok(st) if is(&st, libc::S_IFDIR) => st,
                    _ => {
                        remove_existing(fd(&dir), &name).map_err(error)?;
                        // SAFETY: a NUL-terminated single name relative to a directory fd.
                        cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) })
                            .map_err(error)?;
                        lstat_at(fd(&dir), &name).map_err(error)?
                    }
                };
                directories.insert(
                    relative.clone(),
                    Deferred {
                        dev: st.st_dev,
                        ino: st.st_ino,
                        attributes,
                    },
                );
                count += 1;
                continue;
            }
            EntryType::Regular | EntryType::Continuous => {
                layer
                    .space
                    .take(&relative, entry.size(), layer.filesystem())?;
                remove_existing(fd(&dir), &name).map_err(error)?;
                let created = open_at(
                    fd(&dir),
                    &name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                )
                .map_err(error)?;
                let mut file = File::from(created);
                io::copy(&mut entry, &mut file)
                    .and_then(|_| file.flush())
                    .map_err(|e| layer.error(&relative, e))?;
            }
            EntryType::Symlink => {
                let target = link_name.ok_or_else(|| engine("symlink without target"))?;
                let target = CString::new(target.as_os_str().as_bytes())
                    .map_err(|_| engine(format!("symlink {relative:?}: NUL in its target")))?;
                remove_existing(fd(&dir), &name).map_err(error)?;
                // SAFETY: NUL-terminated strings; the link is made in `dir`.
                cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
                    .map_err(error)?;
            }
            EntryType::Link => {
                let target = link_name.ok_or_else(|| engine("hardlink without target"))?;
                let source = safe_relative(&target)
                    .map_err(|e| engine(format!("hardlink {relative:?}: {}", e.message)))?;
                let not_in_layer = || {
                    engine(format!(
                        "hardlink {relative:?} points to {target:?}, which is not a file in the layer"
                    ))
                };
                let source_name = cname(source.file_name().ok_or_else(not_in_layer)?)?;
                let source_dir = layer.parent_of(&source)?;
                match lstat_at(fd(&source_dir), &source_name) {
                    Ok(st) if !is(&st, libc::S_IFDIR) => {}
                    _ => return Err(not_in_layer()),
                }
                remove_existing(fd(&dir), &name).map_err(error)?;
                // Flags 0: a symlink source is linked itself, never followed.
                // SAFETY: NUL-terminated single names relative to directory fds.
                cvt(unsafe {
                    libc::linkat(
                        source_dir.as_raw_fd(),
                        source_name.as_ptr(),
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        0,
                    )
                })
                .map_err(error)?;
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
                    remove_existing(fd(&dir), &name).map_err(error)?;
                    mknod_at(fd(&dir), &name, kind, mode, major, minor).map_err(error)?;
                }
            },
            EntryType::Fifo => {
                remove_existing(fd(&dir), &name).map_err(error)?;
                mknod_at(fd(&dir), &name, libc::S_IFIFO, mode, 0, 0).map_err(error)?;
            }
            // PAX and GNU long-name headers are consumed by the tar crate;
            // anything else (sparse files, volume labels) is not in images.
            other => {
                return Err(engine(format!(
                    "unsupported tar entry type {other:?} for {relative:?}"
                )));
            }
        }
        attributes
            .apply(fd(&dir), &name, policy)
            .map_err(|e| layer.error(&relative, e))?;
        count += 1;
    }
    // Deepest first, so a read-only parent is locked only after its
    // children; each to the directory its entry made, if it is still there
    // (a later entry may have replaced it, by a symlink to the host even).
    for (relative, deferred) in directories.iter().rev() {
        let Some(dir) = layer.existing_parent_of(relative) else {
            continue;
        };
        let name = cname(relative.file_name().expect("entries have names"))?;
        match lstat_at(fd(&dir), &name) {
            Ok(st)
                if is(&st, libc::S_IFDIR)
                    && st.st_dev == deferred.dev
                    && st.st_ino == deferred.ino => {}
            _ => continue,
        }
        deferred
            .attributes
            .apply(fd(&dir), &name, policy)
            .map_err(|e| layer.error(relative, e))?;
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
            xattr_allowed(&key).then(|| (key, e.value_bytes().to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
    fn whiteout_names_stay_in_their_directory() {
        for bad in [".wh.", ".wh..", ".wh...", ".wh..wh..", ".wh..wh.plnk"] {
            let tar = tar_with(|b| raw(b, EntryType::Regular, &format!("a/{bad}"), None, b""));
            let (_dir, result) = unpack_into(&tar);
            let e = result.expect_err(bad);
            assert!(
                e.message.contains(&format!("invalid whiteout \"a/{bad}\"")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_directory_replaced_by_a_symlink_keeps_its_mode_to_itself() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let target = victim.display().to_string();
        let tar = tar_with(|b| {
            let mut h = header(EntryType::Directory, 0, 0o777);
            h.set_path("d").unwrap();
            h.set_cksum();
            b.append(&h, &b""[..]).unwrap();
            raw(b, EntryType::Symlink, "d", Some(&target), b"");
        });
        let (dir, result) = unpack_into(&tar);
        result.unwrap();
        assert_eq!(fs::read_link(dir.path().join("d")).unwrap(), victim);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o7777, 0o600);
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
