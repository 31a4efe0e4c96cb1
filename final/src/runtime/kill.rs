//! `kill`: sends a signal (a name or a number) to a container's process.

use std::str::FromStr;

use nix::sys::signal::{Signal, kill as send};
use nix::unistd::Pid;

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// A signal as runc takes it: `9`, `KILL` or `SIGKILL`.
pub fn parse_signal(text: &str) -> Result<Signal, Error> {
    let bad = || {
        Error::invalid(format!(
            "unknown signal {text:?}: give a number or a name such as TERM or SIGKILL"
        ))
    };
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = match upper.starts_with("SIG") {
        true => upper,
        false => format!("SIG{upper}"),
    };
    Signal::from_str(&name).map_err(|_| bad())
}

/// Sends `signal` to container `id` (created, running or paused): to its
/// first process, or with `all` to every process of its cgroup.
pub fn kill(globals: &Globals, id: &str, signal: &str, all: bool) -> Result<(), Error> {
    let signal = parse_signal(signal)?;
    let state = State::load(globals, id)?;
    if !matches!(
        state.status,
        Status::Created | Status::Running | Status::Paused
    ) {
        return Err(Error::conflict(format!(
            "container {id} is {}: there is no process to signal",
            state.status.as_str()
        )));
    }
    if all {
        for pid in super::resources::open(id)?.procs() {
            let _ = send(pid, signal);
        }
        return Ok(());
    }
    send(Pid::from_raw(state.pid), signal)
        .map_err(|e| Error::engine(format!("signalling container {id}: {}", e.desc())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("sighup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse_signal("NOPE").unwrap_err().code, 125);
        assert!(parse_signal("99").is_err());
    }
}
