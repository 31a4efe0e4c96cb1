//! Tar streams of a tree, and their unpacking into a tree, for `cp` and
//! `export`. Unpacking into a container resolves every path inside the
//! container's root (chapter 2's `resolve_in_root`): a symbolic link in
//! the container never sends a write out of its root.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, lchown};
use std::path::{Component, Path, PathBuf};

use ch02_namespaces::inroot::resolve_in_root;
use ch04_overlay::idmapped::IdMapping;
use tar::{Builder, EntryType};

use crate::{Error, Result};

/// Writes `host` (a file or a tree, links not followed) as a tar stream,
/// its top entry named `name`; an empty `name`: only what is inside.
/// `ids`: the tree is a container's with a user namespace of its own,
/// whose files have host ids; the archive gets the container's.
pub fn write_tar(host: &Path, name: &Path, ids: Option<&IdMapping>, out: impl Write) -> Result<()> {
    let mut builder = Builder::new(out);
    builder.follow_symlinks(false);
    append(&mut builder, host, name, ids)?;
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::engine(format!("writing the archive: {e}")))
}

fn append<W: Write>(
    builder: &mut Builder<W>,
    host: &Path,
    name: &Path,
    ids: Option<&IdMapping>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::engine(format!("archiving {}: {e}", host.display()));
    let meta = host.symlink_metadata().map_err(io)?;
    if meta.file_type().is_socket() {
        return Ok(()); // as GNU tar: sockets are not archived
    }
    if !name.as_os_str().is_empty() {
        match ids {
            None => builder.append_path_with_name(host, name).map_err(io)?,
            Some(ids) => append_mapped(builder, host, name, &meta, ids).map_err(io)?,
        }
    }
    if meta.is_dir() {
        let mut children: Vec<_> = std::fs::read_dir(host)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        children.sort();
        for child in children {
            append(builder, &host.join(&child), &name.join(&child), ids)?;
        }
    }
    Ok(())
}

/// One entry whose owner is the container's id for its host owner.
fn append_mapped<W: Write>(
    builder: &mut Builder<W>,
    host: &Path,
    name: &Path,
    meta: &std::fs::Metadata,
    ids: &IdMapping,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    let (uid, gid) = ids.to_container(meta.uid(), meta.gid());
    header.set_uid(uid.into());
    header.set_gid(gid.into());
    let kind = meta.file_type();
    if kind.is_file() {
        builder.append_data(&mut header, name, std::fs::File::open(host)?)
    } else if kind.is_symlink() {
        builder.append_link(&mut header, name, std::fs::read_link(host)?)
    } else {
        header.set_size(0);
        builder.append_data(&mut header, name, std::io::empty())
    }
}

/// Where unpacked paths go: a container's root (resolved inside it), or
/// the host's own filesystem.
pub struct Target {
    pub root: Option<PathBuf>,
    /// A container with a user namespace of its own: its root's files
    /// are, on the host, its map's ids (chapter 4's `idmapped`).
    pub ids: Option<IdMapping>,
}

impl Target {
    /// The host path for `path`: its directory resolved inside the root,
    /// its last component as it is (an existing link there is replaced,
    /// never followed).
    pub fn place(&self, path: &Path) -> Result<PathBuf> {
        let Some(root) = &self.root else {
            return Ok(path.to_path_buf());
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = resolve_in_root(root, parent)?;
        Ok(match path.file_name() {
            Some(name) => dir.join(name),
            None => dir,
        })
    }

    /// The host path for `path`, every link resolved (inside the root).
    pub fn resolve(&self, path: &Path) -> Result<PathBuf> {
        match &self.root {
            Some(root) => resolve_in_root(root, path),
            None => Ok(path.to_path_buf()),
        }
    }
}

/// Unpacks a tar stream under `dest` (a directory, in `target`'s terms).
/// `keep_owners`: the archive's uid/gid (`cp -a`); else ours (root).
pub fn extract(input: impl Read, target: &Target, dest: &Path, keep_owners: bool) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    let bad = |e: std::io::Error| Error::invalid(format!("reading the tar stream: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = relative(&entry.path().map_err(bad)?)?;
        if name.as_os_str().is_empty() {
            continue;
        }
        let inside = dest.join(&name);
        let host = target.place(&inside)?;
        let io = |e: std::io::Error| Error::engine(format!("writing {}: {e}", inside.display()));
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let kind = entry.header().entry_type();
        match host.symlink_metadata() {
            Ok(m) if m.is_dir() && kind == EntryType::Directory => {}
            Ok(m) if m.is_dir() => {
                return Err(Error::conflict(format!(
                    "cannot overwrite directory {} with a non-directory",
                    inside.display()
                )));
            }
            Ok(_) => std::fs::remove_file(&host).map_err(io)?,
            Err(_) => {}
        }
        if kind == EntryType::Link {
            let link = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| Error::invalid("a hard link without a target in the tar stream"))?;
            let existing = target.resolve(&dest.join(relative(&link)?))?;
            std::fs::hard_link(existing, &host).map_err(io)?;
        } else if kind == EntryType::Directory {
            if !host.is_dir() {
                std::fs::create_dir(&host).map_err(io)?;
            }
            if let Ok(mode) = entry.header().mode() {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&host, std::fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(io)?;
            }
        } else {
            entry.unpack(&host).map_err(io)?;
        }
        // The archive's owners with -a, else the container's root's.
        let (uid, gid) = if keep_owners {
            let header = entry.header();
            let id = |n: std::io::Result<u64>| n.ok().and_then(|n| u32::try_from(n).ok());
            (id(header.uid()), id(header.gid()))
        } else {
            (Some(0), Some(0))
        };
        if let Some(ids) = &target.ids {
            let (u, g) = ids.to_host(uid.unwrap_or(0), gid.unwrap_or(0));
            lchown(&host, Some(u), Some(g)).map_err(io)?;
        } else if keep_owners {
            lchown(&host, uid, gid).map_err(io)?;
        }
    }
    Ok(())
}

/// An archive's path as a relative one; `..` is refused.
fn relative(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(Error::invalid(format!(
                    "the tar stream has a path outside its directory ({}): refused",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}
