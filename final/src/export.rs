//! `export`: a container's whole filesystem as one tar archive, the view
//! its processes have of their root (the merged overlay), to stdout or to
//! a file; a stopped container's root is mounted for the time it takes.

use std::io::IsTerminal;
use std::path::Path;

use crate::archive::write_tar;
use crate::context::Engine;
use crate::lookup::find;
use crate::rootfs::Root;
use crate::{Error, Result};

pub fn export(engine: &Engine, key: &str, output: Option<&Path>) -> Result<()> {
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(Error::invalid(
            "refusing to write a tar archive to a terminal: use -o FILE or redirect stdout",
        ));
    }
    let found = find(engine, key)?;
    let root = Root::open(&found)?;
    // A container with a user namespace: its own ids in the archive.
    let ids = found.container.config.userns.as_ref();
    match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::invalid(format!("-o {}: {e}", path.display())))?;
            let written = write_tar(
                root.path(),
                Path::new(""),
                ids,
                std::io::BufWriter::new(file),
            );
            if written.is_err() {
                let _ = std::fs::remove_file(path);
            }
            written
        }
        None => write_tar(root.path(), Path::new(""), ids, std::io::stdout().lock()),
    }
}
