//! `run`: `create`, then `start`, then (without `-d`) attach until the
//! container exits, with its exit code as ours.

use crate::attach::{self, Ended, Options, parse_detach_keys};
use crate::cli::RunArgs;
use crate::context::Engine;
use crate::create::create;
use crate::lookup::find;
use crate::start::start;
use crate::{Error, Result};

/// How `run` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    /// `-d`: the container runs; its id, for the caller to print.
    Detached(String),
    /// Attached: the code to exit with.
    Exited(i32),
}

// ANCHOR: run
pub fn run(engine: &Engine, args: RunArgs, stored: Vec<String>) -> Result<Ran> {
    let detach = args.detach;
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref())?;
    let sig_proxy = args.sig_proxy;
    let found = create(engine, args.create, stored)?;
    let remove = |e: Error| {
        // A container that could not start is not kept: nothing half-made.
        let _ = crate::remove::remove_stopped(engine, &found.container);
        e
    };
    if detach {
        start(engine, &found, false).map_err(remove)?;
        return Ok(Ran::Detached(found.record.id));
    }
    let stream = start(engine, &found, true)
        .map_err(remove)?
        .ok_or_else(|| Error::engine("not attached"))?;
    // The record now names the running process (for --sig-proxy).
    let running = crate::record::Record::read(found.dir())?;
    let options = Options {
        stdin: found.record.process.open_stdin,
        tty: found.record.process.tty,
        detach_keys,
        sig_proxy,
        pid: running.and_then(|r| r.live_pid()),
    };
    let ended = attach::relay(stream, &options)?;
    exit_code(engine, &found, ended).map(Ran::Exited)
}
// ANCHOR_END: run

/// The code to exit with once the attachment ended; a `--rm` container is
/// gone before we return.
pub fn exit_code(engine: &Engine, found: &crate::lookup::Found, ended: Ended) -> Result<i32> {
    match ended {
        Ended::Detached => Ok(0),
        Ended::Exited(code) => {
            if found.record.host.auto_remove {
                // --rm: the monitor removes it after sending the code.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while found.dir().exists() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            Ok(code)
        }
        Ended::Lost => {
            crate::stop::wait_exited(found, std::time::Duration::from_secs(30));
            match find(engine, &found.record.id) {
                Ok(f) => Ok(f.record.state.exit_code),
                Err(_) => Ok(0),
            }
        }
    }
}
