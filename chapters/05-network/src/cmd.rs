//! Running `ip`, `iptables` and friends: one line of error when they fail.

use std::process::{Command, Output};

use crate::{Error, Result};

/// The command line as a reader would type it (for messages and the book).
pub fn display(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `cmd` and returns its output, whatever its exit status.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| {
        let program = cmd.get_program().to_string_lossy().into_owned();
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::engine(format!(
                "`{program}` not found: install iproute2 and iptables (apt-get install iproute2 iptables)"
            ))
        } else {
            Error::engine(format!("cannot run `{}`: {e}", display(cmd)))
        }
    })
}

/// Runs `cmd`, fails with its stderr unless it exits 0, returns its stdout.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(Error::engine(format!(
            "`{}` failed: {}",
            display(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` and reports only whether it exited 0 (for checks such as `iptables -C`).
pub fn succeeds(cmd: &mut Command) -> Result<bool> {
    Ok(output(cmd)?.status.success())
}

/// `ip ARGS...` in the caller's network namespace.
pub fn ip(args: &[&str]) -> Result<String> {
    run(Command::new("ip").args(args))
}

/// Runs `ip -j ARGS...` and parses its JSON output.
pub fn ip_json(args: &[&str]) -> Result<serde_json::Value> {
    let out = run(Command::new("ip").arg("-j").args(args))?;
    if out.trim().is_empty() {
        return Ok(serde_json::Value::Array(vec![]));
    }
    serde_json::from_str(&out)
        .map_err(|e| Error::engine(format!("cannot parse `ip -j {}`: {e}", args.join(" "))))
}
