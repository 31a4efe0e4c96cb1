//! `create`: makes the container and returns while it waits to be started.
//!
//! The container must outlive the `create` process, and chapter 2's child
//! dies with its parent (`PR_SET_PDEATHSIG`). So `create` starts a keeper,
//! `berth-runtime __keeper`, in a session of its own: the keeper runs
//! chapter 2's `start` with an exec gate, records the state, says "created"
//! on a pipe (fd 3), then waits for the container and records its exit.
//! The container's stdio is `create`'s own 0, 1 and 2, which the keeper
//! inherits and hands on (containerd passes its pipes this way).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::sync::Arc;

use ch02_namespaces::StartSequence;
use ch02_namespaces::start::start;
use ch03_cgroups::Cgroup;
use nix::fcntl::OFlag;
use nix::unistd::pipe2;
use serde::{Deserialize, Serialize};

use super::state::{EXEC_FIFO, State, Status, check_id};
use super::{Globals, bundle};
use crate::Error;

/// The keeper's end of the "created" pipe.
const READY_FD: i32 = 3;

/// What `create` was asked.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// The keeper's one-line answer on the pipe.
#[derive(Serialize, Deserialize)]
struct Ready {
    /// None: created. Some: why not, with the exit code to use.
    error: Option<String>,
    code: i32,
}

// ANCHOR: create
/// Creates container `options.id`; returns once it waits at its gate.
pub fn create(globals: &Globals, options: &CreateOptions) -> Result<(), Error> {
    check_id(&options.id)?;
    // Read now, so that bad input fails before anything is made.
    let bundle = bundle::load(&options.bundle)?;
    match (bundle.spec.tty, &options.console_socket) {
        (true, None) => {
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
    let result = spawn_keeper(globals, options, &bundle.dir);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}
// ANCHOR_END: create

/// Starts the keeper in its own session and waits for its answer.
fn spawn_keeper(globals: &Globals, options: &CreateOptions, bundle: &Path) -> Result<(), Error> {
    let (reader, writer) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::engine(format!("pipe: {}", e.desc())))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::engine(format!("finding berth-runtime itself: {e}")))?;
    let mut command = Command::new(exe);
    command.arg("--root").arg(&globals.root);
    if let Some(log) = &globals.log {
        command.arg("--log").arg(log);
    }
    command
        .arg("--log-format")
        .arg(match globals.log_format {
            super::log::Format::Json => "json",
            super::log::Format::Text => "text",
        })
        .arg("__keeper")
        .arg("--bundle")
        .arg(bundle);
    if let Some(pid_file) = &options.pid_file {
        let pid_file = std::path::absolute(pid_file)
            .map_err(|e| Error::invalid(format!("pid file {}: {e}", pid_file.display())))?;
        command.arg("--pid-file").arg(pid_file);
    }
    if let Some(socket) = &options.console_socket {
        let socket = std::path::absolute(socket)
            .map_err(|e| Error::invalid(format!("console socket {}: {e}", socket.display())))?;
        command.arg("--console-socket").arg(socket);
    }
    command.arg(&options.id);
    // stdio is inherited: it becomes the container's.
    command.stdin(Stdio::inherit());
    let raw = writer.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::dup2(raw, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::engine(format!("starting the keeper: {e}")))?;
    drop(writer);
    let mut line = String::new();
    let _ = BufReader::new(std::fs::File::from(reader)).read_line(&mut line);
    match serde_json::from_str::<Ready>(&line) {
        Ok(Ready { error: None, .. }) => {
            // The keeper lives on, reparented, as long as the container.
            std::mem::forget(child);
            Ok(())
        }
        Ok(Ready {
            error: Some(message),
            code,
        }) => {
            let _ = child.wait();
            Err(Error::new(code, message))
        }
        Err(_) => {
            let _ = child.wait();
            Err(Error::engine(
                "the keeper ended before the container was created",
            ))
        }
    }
}

// ANCHOR: keeper
/// The keeper's whole life (`berth-runtime __keeper`): start the container
/// with a gate, say so, wait for it, record its exit. Returns the code the
/// keeper exits with.
pub fn keeper(
    globals: &Globals,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    console_socket: Option<&Path>,
) -> i32 {
    // SAFETY: fd 3 was set up by `create` for this process alone.
    let mut ready = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(READY_FD) });
    let dir = globals.dir(id);
    let created = create_container(globals, id, bundle, pid_file, console_socket);
    let (container, cgroup, mut state) = match created {
        Ok(created) => created,
        Err(error) => {
            let answer = Ready {
                error: Some(error.message.clone()),
                code: error.code,
            };
            let _ = writeln!(
                ready,
                "{}",
                serde_json::to_string(&answer).unwrap_or_default()
            );
            return error.code;
        }
    };
    let answer = Ready {
        error: None,
        code: 0,
    };
    let _ = writeln!(
        ready,
        "{}",
        serde_json::to_string(&answer).unwrap_or_default()
    );
    drop(ready);
    // The keeper's own stdio no longer matters: let go of the caller's
    // pipes, so that only the container holds them.
    detach_stdio();
    let code = container.wait().unwrap_or_else(|e| {
        if let Some(log) = &globals.log {
            super::log::append(log, globals.log_format, "error", &e.message);
        }
        128 + 9
    });
    super::resources::remove(cgroup);
    state.status = Status::Stopped;
    state.exit_code = Some(code);
    // The directory is gone if the container was deleted meanwhile.
    if dir.exists() {
        let _ = state.save(&dir);
    }
    // Whoever reaps the keeper hears the container's code.
    code
}
// ANCHOR_END: keeper

/// Runs chapter 2's start sequence up to the gate and records the state.
fn create_container(
    globals: &Globals,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    console_socket: Option<&Path>,
) -> Result<(ch02_namespaces::start::Container, Arc<Cgroup>, State), Error> {
    let dir = globals.dir(id);
    let mut loaded = bundle::load(bundle)?;
    loaded.spec.exec_fifo = Some(dir.join(EXEC_FIFO));
    loaded.spec.stdio = Some([0, 1, 2]);
    // With a terminal, the pty's slave is all three; it stays open here
    // until `start` has handed it on.
    let console = console_socket
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
    let container = start(&loaded.spec, sequence)?;
    state.pid = container.pid().as_raw();
    state.status = Status::Created;
    state.save(&dir)?;
    if let Some(pid_file) = pid_file {
        ch04_overlay::atomic::write_atomic_volatile(pid_file, state.pid.to_string().as_bytes())?;
    }
    Ok((container, cgroup, state))
}

/// Points the keeper's fds 0, 1 and 2 at /dev/null.
fn detach_stdio() {
    if let Ok(null) = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors of this process.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}
