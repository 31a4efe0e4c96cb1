//! Replacing the child with the user's command, and naming why it failed.

use std::convert::Infallible;
use std::ffi::CString;

use nix::errno::Errno;
use nix::unistd;

use crate::Error;
use crate::error::{CANNOT_INVOKE, NOT_FOUND};

/// The command run when none is given.
pub const DEFAULT_COMMAND: &str = "/bin/sh";

/// PATH used inside the root when the caller has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ANCHOR: exec_command
/// Executes `argv` (searching PATH like a shell). Returns only on failure,
/// with the exit code a shell would use: 127 not found, 126 not executable.
pub fn exec_command(argv: &[String]) -> Result<Infallible, Error> {
    let program = argv.first().map(String::as_str).unwrap_or(DEFAULT_COMMAND);
    let args = to_cstrings(argv)?;
    let program_c = CString::new(program).map_err(|_| nul_error(program))?;
    let errno = match unistd::execvp(&program_c, &args) {
        Ok(never) => match never {},
        Err(errno) => errno,
    };
    Err(exec_error(program, errno))
}
// ANCHOR_END: exec_command

// ANCHOR: exec_error
/// Maps an `execve` errno to the message and exit code a shell would give.
pub fn exec_error(program: &str, errno: Errno) -> Error {
    match errno {
        Errno::ENOENT if program.contains('/') => Error::new(
            NOT_FOUND,
            format!("{program}: no such file (or its interpreter is missing)"),
        ),
        Errno::ENOENT => Error::new(NOT_FOUND, format!("{program}: command not found in PATH")),
        Errno::EACCES | Errno::EPERM => Error::new(
            CANNOT_INVOKE,
            format!("{program}: permission denied (is it executable?)"),
        ),
        Errno::ENOEXEC => Error::new(
            CANNOT_INVOKE,
            format!("{program}: exec format error (not a binary or script)"),
        ),
        Errno::EISDIR => Error::new(CANNOT_INVOKE, format!("{program}: is a directory")),
        other => Error::new(CANNOT_INVOKE, format!("{program}: {}", other.desc())),
    }
}
// ANCHOR_END: exec_error

fn to_cstrings(argv: &[String]) -> Result<Vec<CString>, Error> {
    if argv.is_empty() {
        return Ok(vec![CString::new(DEFAULT_COMMAND).expect("no NUL")]);
    }
    argv.iter()
        .map(|a| CString::new(a.as_str()).map_err(|_| nul_error(a)))
        .collect()
}

fn nul_error(arg: &str) -> Error {
    Error::invalid(format!("argument {arg:?} contains a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_shell_codes() {
        assert_eq!(exec_error("nope", Errno::ENOENT).code, 127);
        assert_eq!(
            exec_error("nope", Errno::ENOENT).message,
            "nope: command not found in PATH"
        );
        assert_eq!(exec_error("/bin/nope", Errno::ENOENT).code, 127);
        assert_eq!(exec_error("/etc/passwd", Errno::EACCES).code, 126);
        assert_eq!(exec_error("/x", Errno::ENOEXEC).code, 126);
        assert_eq!(
            exec_error("nope", Errno::ENOENT).kind,
            crate::error::ErrorKind::CommandNotFound
        );
        assert_eq!(
            exec_error("/x", Errno::EACCES).kind,
            crate::error::ErrorKind::CannotInvoke
        );
    }

    #[test]
    fn nul_bytes_are_rejected() {
        let err = to_cstrings(&["a\0b".to_string()]).unwrap_err();
        assert_eq!(err.code, 125);
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
    }
}
