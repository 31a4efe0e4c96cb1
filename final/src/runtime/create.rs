//! `create`: makes the container and returns while it waits to be started.
//!
//! As with runc, the container's first process is the `create` process's
//! own child, cloned by chapter 2's `start` with an exec gate and without
//! the parent-death signal. `create` records the state and exits; the
//! kernel re-parents the waiting container to the nearest subreaper above
//! (containerd's shim), which reaps it and so learns its exit. No process
//! of berth-runtime stays behind. The container's stdio is `create`'s own
//! 0, 1 and 2 (containerd passes its pipes this way), or a pty's slave.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ch02_namespaces::StartSequence;
use ch02_namespaces::start::{Container, start};
use ch03_cgroups::Cgroup;

use super::state::{EXEC_FIFO, State, Status, check_id};
use super::{Globals, bundle};
use crate::Error;

/// What `create` was asked.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// Descriptors 3 to 3+N-1 passed on (runc's `--preserve-fds`).
    pub preserve_fds: u32,
}

/// A container created in this process, waiting at its gate.
pub struct Created {
    pub container: Container,
    pub cgroup: Arc<Cgroup>,
    pub state: State,
    /// The pty's slave, open until the container has its copies.
    _console: Option<OwnedFd>,
}

// ANCHOR: create
/// Creates container `options.id`; returns once it waits at its gate,
/// leaving it to whoever is above this process.
pub fn create(globals: &Globals, options: &CreateOptions) -> Result<(), Error> {
    let created = create_here(globals, options, false)?;
    // From here the container is on its own: this process exits, the
    // kernel re-parents the container, `delete` releases its cgroup.
    created.container.release();
    Ok(())
}
// ANCHOR_END: create

/// Checks the input, makes the state directory and creates the container
/// as this process's child (`die_with_parent`: for `run`, which waits);
/// on any error nothing is left.
pub fn create_here(
    globals: &Globals,
    options: &CreateOptions,
    die_with_parent: bool,
) -> Result<Created, Error> {
    check_id(&options.id)?;
    // Read now, so that bad input fails before anything is made.
    let bundle = bundle::load(&options.bundle)?;
    // `run` may relay its own terminal; `create` has no terminal to keep.
    let relay = die_with_parent && options.console_socket.is_none();
    match (bundle.spec.tty, &options.console_socket) {
        (true, None) if !relay => {
            return Err(Error::invalid(
                "process.terminal is true: pass --console-socket to receive the pty, or set it to false",
            ));
        }
        (false, Some(_)) => {
            return Err(Error::invalid(
                "--console-socket needs process.terminal set to true in config.json",
            ));
        }
        _ => {}
    }
    std::fs::create_dir_all(&globals.root)
        .map_err(|e| Error::engine(format!("root {}: {e}", globals.root.display())))?;
    let dir = globals.dir(&options.id);
    std::fs::create_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::conflict(format!(
            "container {} already exists: delete it first or pick another id",
            options.id
        )),
        _ => Error::engine(format!("{}: {e}", dir.display())),
    })?;
    let result = create_container(globals, options, bundle, die_with_parent, relay);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

// ANCHOR: create_container
/// Runs chapter 2's start sequence up to the gate and records the state.
fn create_container(
    globals: &Globals,
    options: &CreateOptions,
    mut loaded: bundle::Bundle,
    die_with_parent: bool,
    relay: bool,
) -> Result<Created, Error> {
    let id = &options.id;
    let dir = globals.dir(id);
    loaded.spec.exec_fifo = Some(dir.join(EXEC_FIFO));
    loaded.spec.die_with_parent = die_with_parent;
    loaded.spec.preserve_fds = options.preserve_fds;
    // Our own stdio, unless `run` relays its terminal (chapter 2's pty).
    loaded.spec.stdio = (!(relay && loaded.spec.tty)).then_some([0, 1, 2]);
    // With a terminal, the pty's slave is all three.
    let console = options
        .console_socket
        .as_deref()
        .map(super::console::console_for)
        .transpose()?;
    if let Some(slave) = &console {
        let fd = slave.as_raw_fd();
        loaded.spec.stdio = Some([fd, fd, fd]);
    }
    let mut state = State::new(id, &loaded.dir, &loaded.spec.rootfs);
    if let Some(annotations) = loaded.config.annotations() {
        state.annotations = annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    let mut sequence = StartSequence::standard();
    let limits = super::resources::limits(&loaded.config);
    let cgroup = super::resources::cgroup_for(id, &limits, &mut sequence)?;
    super::mounts::add_step(loaded.mounts.clone(), &mut sequence);
    super::security::confine(&loaded.config, &mut sequence)?;
    if let Some(user) = loaded.user.clone() {
        super::user::add_steps(user, loaded.spec.exec_fifo.clone(), &mut sequence);
    }
    super::hooks::add_step(&loaded.config, &state, &mut sequence);
    // On error from here, dropping `container` kills it and the cgroup goes.
    let container = start(&loaded.spec, sequence)?;
    state.set_process(container.pid());
    state.status = Status::Created;
    state.save(&dir)?;
    if let Some(pid_file) = &options.pid_file {
        write_pid_file(pid_file, state.pid)?;
    }
    Ok(Created {
        container,
        cgroup,
        state,
        _console: console,
    })
}
// ANCHOR_END: create_container

/// Writes `pid` to `path` whole (the shim reads it as soon as we exit).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    let path = std::path::absolute(path)
        .map_err(|e| Error::invalid(format!("pid file {}: {e}", path.display())))?;
    ch04_overlay::atomic::write_atomic_volatile(&path, pid.to_string().as_bytes())
}
