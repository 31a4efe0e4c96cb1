//! `cp`: files between a container and the host, by Docker's rules.
//!
//! `CONTAINER:SRC DEST` copies out, `SRC CONTAINER:DEST` copies in; `-`
//! is a tar stream (stdout out, stdin in). A file lands at DEST if DEST
//! is not a directory, inside it if it is; a directory becomes DEST if
//! DEST does not exist, else goes inside it; `SRC/.` copies a
//! directory's contents. Every copy is a tar stream from the source to an
//! unpacking of it at the destination; paths in the container are
//! resolved inside its root (see [`crate::archive`]), the container
//! frozen meanwhile if it runs. A stopped container's root is mounted for
//! the copy.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::archive::{Target, extract, write_tar};
use crate::context::Engine;
use crate::lookup::find;
use crate::pause::Frozen;
use crate::rootfs::Root;
use crate::{Error, Result};
use ch04_overlay::idmapped::IdMapping;

/// One side of `cp`.
enum Side {
    Container(String, String),
    Host(String),
}

fn side(arg: &str) -> Side {
    // As Docker: a colon before any slash names a container; a local
    // path with a colon is written ./a:b.
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Host(arg.to_string());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.contains('/') && !c.is_empty() => {
            Side::Container(c.to_string(), p.to_string())
        }
        _ => Side::Host(arg.to_string()),
    }
}

pub fn cp(engine: &Engine, source: &str, dest: &str, follow: bool, archive: bool) -> Result<()> {
    match (side(source), side(dest)) {
        (Side::Container(c, src), Side::Host(dest)) => copy_out(engine, &c, &src, &dest, follow),
        (Side::Host(src), Side::Container(c, dest)) => {
            copy_in(engine, &src, &c, &dest, follow, archive)
        }
        (Side::Container(..), Side::Container(..)) => Err(Error::invalid(
            "copying between containers is not supported: copy to the host first",
        )),
        (Side::Host(..), Side::Host(..)) => Err(Error::invalid(
            "cp needs a container on one side: CONTAINER:SRC DEST or SRC CONTAINER:DEST",
        )),
    }
}

/// A source, as found: its host path, and what its tar names it.
struct Source {
    host: PathBuf,
    is_dir: bool,
    /// `SRC/.`: the directory's contents, not the directory.
    contents: bool,
    name: PathBuf,
}

fn source(target: &Target, path: &str, follow: bool) -> Result<Source> {
    let inside = PathBuf::from(if path.is_empty() { "/" } else { path });
    let contents = path.ends_with("/.") || path == ".";
    let host = if follow {
        target.resolve(&inside)?
    } else {
        target.place(&inside)?
    };
    let meta = host
        .symlink_metadata()
        .map_err(|_| Error::not_found(format!("no such file or directory: {path}")))?;
    if path.ends_with('/') && !meta.is_dir() {
        return Err(Error::invalid(format!("{path} is not a directory")));
    }
    let name = Path::new(inside.file_name().unwrap_or(OsStr::new("/"))).to_path_buf();
    let name = if name == Path::new("/") {
        PathBuf::from(".")
    } else {
        name
    };
    Ok(Source {
        host,
        is_dir: meta.is_dir(),
        contents,
        name,
    })
}

/// Where a source goes: the directory to unpack in, and the name its
/// top entry takes there ("" for a directory's contents).
fn destination(target: &Target, dest: &str, src: &Source) -> Result<(PathBuf, PathBuf)> {
    let inside = PathBuf::from(dest);
    let found = target.resolve(&inside)?.symlink_metadata().ok();
    match found {
        Some(m) if m.is_dir() => Ok((
            inside,
            if src.contents {
                PathBuf::new()
            } else {
                src.name.clone()
            },
        )),
        Some(_) if src.is_dir => Err(Error::invalid(format!(
            "cannot copy a directory to the file {dest}: give a directory"
        ))),
        Some(_) => split(&inside),
        None if dest.ends_with('/') && !src.is_dir => Err(Error::not_found(format!(
            "no such directory: {dest} (copying a file to a path ending in / needs the directory)"
        ))),
        None => {
            let (dir, name) = split(&inside)?;
            if !target.resolve(&dir)?.is_dir() {
                return Err(Error::not_found(format!(
                    "no such directory: {}",
                    dir.display()
                )));
            }
            Ok((dir, name))
        }
    }
}

fn split(path: &Path) -> Result<(PathBuf, PathBuf)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((
            if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            },
            PathBuf::from(name),
        )),
        _ => Err(Error::invalid(format!(
            "{}: give a file or directory name",
            path.display()
        ))),
    }
}

fn copy_out(engine: &Engine, key: &str, src: &str, dest: &str, follow: bool) -> Result<()> {
    let found = find(engine, key)?;
    let _frozen = Frozen::freeze(&found)?;
    let root = Root::open_seen(&found)?;
    let inside = Target {
        root: Some(root.path().to_path_buf()),
        ids: found.container.config.userns.clone(),
    };
    let src = source(&inside, src, follow)?;
    if dest == "-" {
        return write_tar(
            &src.host,
            &src.name,
            inside.ids.as_ref(),
            std::io::stdout().lock(),
        );
    }
    let host = Target {
        root: None,
        ids: None,
    };
    let (dir, name) = destination(&host, dest, &src)?;
    stream((&src.host, inside.ids.clone()), &name, &host, &dir, false)
}

fn copy_in(
    engine: &Engine,
    src: &str,
    key: &str,
    dest: &str,
    follow: bool,
    keep_owners: bool,
) -> Result<()> {
    let found = find(engine, key)?;
    if found.record.host.read_only {
        return Err(Error::invalid(format!(
            "container {key}'s root filesystem is read-only (--read-only): cannot copy into it"
        )));
    }
    let _frozen = Frozen::freeze(&found)?;
    let root = Root::open_seen(&found)?;
    let inside = Target {
        root: Some(root.path().to_path_buf()),
        ids: found.container.config.userns.clone(),
    };
    let dest = if dest.is_empty() { "/" } else { dest };
    if src == "-" {
        if !inside.resolve(Path::new(dest))?.is_dir() {
            return Err(Error::invalid(format!(
                "{dest} is not a directory in {key}: a tar stream unpacks into a directory"
            )));
        }
        return extract(
            std::io::stdin().lock(),
            &inside,
            Path::new(dest),
            keep_owners,
        );
    }
    let host = Target {
        root: None,
        ids: None,
    };
    let src = source(&host, src, follow)?;
    let (dir, name) = destination(&inside, dest, &src)?;
    stream((&src.host, None), &name, &inside, &dir, keep_owners)
}

/// Archives `from` under `name` on one thread and unpacks it into `dir`
/// on this one, through a pipe: nothing is held in memory.
/// `from_ids`: the source is a container's with a user namespace.
fn stream(
    (from, from_ids): (&Path, Option<IdMapping>),
    name: &Path,
    target: &Target,
    dir: &Path,
    keep: bool,
) -> Result<()> {
    let (read, write) = nix::unistd::pipe().map_err(|e| Error::engine(format!("pipe: {e}")))?;
    let (from, name) = (from.to_path_buf(), name.to_path_buf());
    let writer = std::thread::spawn(move || {
        write_tar(
            &from,
            &name,
            from_ids.as_ref(),
            std::io::BufWriter::new(std::fs::File::from(write)),
        )
    });
    let unpacked = extract(std::fs::File::from(read), target, dir, keep);
    let written = writer
        .join()
        .map_err(|_| Error::engine("the archiving thread panicked"))?;
    unpacked.and(written)
}
