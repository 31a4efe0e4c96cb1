//! Copying files the way a storage driver must: everything but the data's
//! location preserved (type, mode, owner, times, device numbers, symlink
//! targets, hard links, extended attributes).

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use crate::whiteout::is_private_overlay_xattr;
use crate::xattr;

/// Remembers copied files with several links, so the copy links them too.
#[derive(Default)]
pub struct HardLinks {
    seen: HashMap<(u64, u64), PathBuf>,
}

/// Copies one node (not a directory's contents) from `src` to `dst`.
///
/// Directories are created empty; call [`finish_dir`] once their contents
/// are in, so their modification time is the original's.
pub fn copy_node(src: &Path, meta: &Metadata, dst: &Path, links: &mut HardLinks) -> io::Result<()> {
    let ft = meta.file_type();
    if !ft.is_dir() && meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = links.seen.get(&key) {
            return fs::hard_link(first, dst);
        }
        links.seen.insert(key, dst.to_path_buf());
    }
    if ft.is_dir() {
        fs::create_dir(dst)?;
    } else if ft.is_symlink() {
        symlink(fs::read_link(src)?, dst)?;
    } else if ft.is_file() {
        fs::copy(src, dst)?;
    } else {
        let kind = if ft.is_char_device() {
            SFlag::S_IFCHR
        } else if ft.is_block_device() {
            SFlag::S_IFBLK
        } else if ft.is_fifo() {
            SFlag::S_IFIFO
        } else {
            SFlag::S_IFSOCK
        };
        mknod(dst, kind, Mode::empty(), meta.rdev())?;
    }
    lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if !ft.is_symlink() {
        // After chown, which clears set-id bits.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    copy_xattrs(src, dst)?;
    if !ft.is_dir() {
        set_times(dst, meta)?;
    }
    Ok(())
}

/// Gives a copied directory its original times (after its contents).
pub fn finish_dir(dst: &Path, meta: &Metadata) -> io::Result<()> {
    set_times(dst, meta)
}

fn set_times(dst: &Path, meta: &Metadata) -> io::Result<()> {
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// Copies extended attributes, except overlay's private bookkeeping; an
/// attribute the destination refuses (a namespace it lacks) is skipped.
pub fn copy_xattrs(src: &Path, dst: &Path) -> io::Result<()> {
    for name in xattr::list(src)? {
        let text = name.to_string_lossy();
        if is_private_overlay_xattr(&text) {
            continue;
        }
        let Some(value) = xattr::get(src, &text)? else {
            continue;
        };
        match xattr::set(dst, &name, &value) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::EPERM)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Copies the tree at `src` to `dst` (which must not exist).
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let mut links = HardLinks::default();
    copy_tree_with(src, dst, &mut links)
}

fn copy_tree_with(src: &Path, dst: &Path, links: &mut HardLinks) -> io::Result<()> {
    let meta = src.symlink_metadata()?;
    copy_node(src, &meta, dst, links)
        .map_err(|e| io::Error::new(e.kind(), format!("copying {}: {e}", src.display())))?;
    if meta.is_dir() {
        let mut names: Vec<_> = fs::read_dir(src)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            copy_tree_with(&src.join(&name), &dst.join(&name), links)?;
        }
        finish_dir(dst, &meta)?;
    }
    Ok(())
}
