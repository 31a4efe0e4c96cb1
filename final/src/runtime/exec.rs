//! `exec`: runs another process in a running container (chapter 2's
//! `join::exec`), in its cgroup (chapter 3), with the capabilities and
//! no_new_privileges its config keeps (chapter 7). containerd's shim gives
//! the process as a runtime-spec `Process` in a file (`--process`), with
//! `--detach` and `--pid-file`.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use ch02_namespaces::join::{ExecSpec, ExecSteps, exec as enter};
use ch07_security::capabilities;
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// What `exec` was asked.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub id: String,
    /// A runtime-spec `Process` as JSON; else `command`.
    pub process: Option<PathBuf>,
    pub command: Vec<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

// ANCHOR: exec
/// Runs the process in container `options.id` and waits: its exit code.
pub fn exec(globals: &Globals, options: &ExecOptions) -> Result<i32, Error> {
    let state = State::load(globals, &options.id)?;
    if state.status != Status::Running {
        return Err(Error::conflict(format!(
            "container {} is {}, not running: exec needs a running container",
            options.id,
            state.status.as_str()
        )));
    }
    let process = read_process(options)?;
    let config = super::bundle::load(&state.bundle)?.config;
    let target = Pid::from_raw(state.pid);
    let mut spec = ExecSpec::new(
        target,
        process.args().clone().unwrap_or_default(),
        process.env().clone().unwrap_or_default(),
    );
    spec.cwd = process.cwd().clone();
    let user = process.user();
    spec.user = Some((
        user.uid(),
        user.gid(),
        user.additional_gids().clone().unwrap_or_default(),
    ));
    let terminal = process.terminal().unwrap_or(false);
    let console = match (terminal, &options.console_socket) {
        (true, Some(socket)) => Some(super::console::console_for(socket)?),
        (true, None) => {
            return Err(Error::invalid(
                "the process asks for a terminal: pass --console-socket",
            ));
        }
        (false, _) => None,
    };
    spec.stdio = Some(match &console {
        Some(slave) => [slave.as_raw_fd(); 3],
        None => [0, 1, 2],
    });
    spec.tty = terminal;
    // Detached (as the shim always asks), the process outlives this
    // command: re-parented to the shim, which reaps it.
    spec.die_with_parent = !options.detach;
    let keep = super::security::capabilities(&config)?;
    let bound = keep.clone();
    let no_new_privileges = process.no_new_privileges().unwrap_or(false);
    // The container's cgroup in every hierarchy.
    let cgroup = super::resources::open(&options.id)?;
    let steps = ExecSteps::default()
        .parent(move |pid: Pid| cgroup.add_process(pid))
        .before_user(move || capabilities::bound(&bound))
        .child(move || {
            if no_new_privileges {
                nix::sys::prctl::set_no_new_privs()
                    .map_err(|e| Error::engine(format!("no_new_privs: {}", e.desc())))?;
            }
            capabilities::raise_permitted()?;
            capabilities::apply(&keep)
        });
    let started = enter(&spec, steps)?;
    if let Some(pid_file) = &options.pid_file {
        super::create::write_pid_file(pid_file, started.pid().as_raw())?;
    }
    if options.detach {
        started.release();
        return Ok(0);
    }
    started.wait()
}
// ANCHOR_END: exec

/// The process: from `--process`, or the command line's.
fn read_process(options: &ExecOptions) -> Result<Process, Error> {
    match &options.process {
        Some(path) => load_process(path),
        None if options.command.is_empty() => {
            Err(Error::invalid("exec needs a command, or --process FILE"))
        }
        None => {
            let mut process = Process::default();
            process.set_args(Some(options.command.clone()));
            Ok(process)
        }
    }
}

fn load_process(path: &Path) -> Result<Process, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("process file {}: {e}", path.display())))?;
    serde_json::from_slice(&text)
        .map_err(|e| Error::invalid(format!("process file {}: {e}", path.display())))
}
