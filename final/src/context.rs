//! The engine's one context: where its state lives, and the paths every
//! host-wide name derives from (always the container's id, never its name).

use std::path::{Path, PathBuf};

use crate::Error;

/// The default state root (`--root`).
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// Runtime state, gone at reboot: monitor sockets.
pub const DEFAULT_RUN_DIR: &str = "/run/berth";

#[derive(Debug, Clone)]
pub struct Engine {
    /// Images, layers, containers (chapter 4's and 6's stores share it).
    pub root: PathBuf,
    /// `<run_dir>/<id>/attach.sock`.
    pub run_dir: PathBuf,
    /// The `berth` binary, to start monitors with.
    pub exe: PathBuf,
}

impl Engine {
    pub fn new(root: PathBuf, run_dir: PathBuf) -> Result<Engine, Error> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::engine(format!("cannot find the berth binary: {e}")))?;
        Ok(Engine { root, run_dir, exe })
    }

    /// Chapter 4's container store, swept of what dead runs left.
    pub fn containers(&self) -> Result<ch04_overlay::Store, Error> {
        ch04_overlay::Store::open(&self.root)
    }

    /// Chapter 6's image store.
    pub fn images(&self) -> Result<ch06_images::store::Store, Error> {
        ch06_images::run::image_store(&self.root)
    }

    /// The directory of a running container's monitor.
    pub fn run_dir_of(&self, id: &str) -> PathBuf {
        self.run_dir.join(id)
    }

    /// The monitor's attach socket.
    pub fn socket_of(&self, id: &str) -> PathBuf {
        self.run_dir_of(id).join("attach.sock")
    }

    /// Makes `<run_dir>/<id>`, private to root.
    pub fn make_run_dir(&self, id: &str) -> Result<PathBuf, Error> {
        let dir = self.run_dir_of(id);
        private_dir(&self.run_dir)?;
        private_dir(&dir)?;
        Ok(dir)
    }
}

fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::engine(format!("creating {}: {e}", dir.display()))),
    }
}

/// A socket address for `path` that fits `sockaddr_un`'s 108 bytes
/// whatever the run directory's length: its directory opened, and the
/// socket named through `/proc/self/fd/N/NAME`. Keep the returned
/// descriptor until the bind or connect is done.
pub fn short_socket_path(path: &Path) -> Result<(std::fs::File, PathBuf), Error> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)
        .map_err(|e| Error::engine(format!("{}: {e}", dir.display())))?;
    let name = path.file_name().unwrap_or_default();
    let short = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())).join(name);
    Ok((file, short))
}
