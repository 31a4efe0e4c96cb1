//! The one error type of the chapter binaries: a kind, an exit code and a
//! one-line message.
//!
//! Docker's convention for the code: 125 when the engine itself fails, 126
//! when the command exists but cannot be invoked, 127 when it cannot be
//! found. The code is for the shell; the kind is for programs. An engine
//! that must answer "no such container" differently from "name in use"
//! (an HTTP API: 404 and 409) branches on the kind, never on the text.

use std::fmt;

/// Exit code for a failure of the engine itself (bad flag, missing rootfs).
pub const ENGINE_ERROR: i32 = 125;
/// Exit code when the command was found but could not be executed.
pub const CANNOT_INVOKE: i32 = 126;
/// Exit code when the command does not exist.
pub const NOT_FOUND: i32 = 127;

// ANCHOR: kind
/// What went wrong, for a caller that must act on it (and, later, the
/// status an HTTP API answers with: 404, 409, 400, 409, 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No such container, image, network, layer or directory.
    NotFound,
    /// The request clashes with what exists: a name in use, a port
    /// allocated, a network still in use, a destination already there.
    Conflict,
    /// A bad flag, value or combination: the caller must change the request.
    InvalidInput,
    /// In use by a live process (a running container, a mounted root):
    /// the same request may work once it stops.
    Busy,
    /// The host, the kernel, the disk or a registry failed.
    System,
    /// The container's command exists but cannot be executed (exit 126).
    CannotInvoke,
    /// The container's command does not exist (exit 127).
    CommandNotFound,
}
// ANCHOR_END: kind

impl ErrorKind {
    /// The exit code a binary ends with for this kind.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::CannotInvoke => CANNOT_INVOKE,
            ErrorKind::CommandNotFound => NOT_FOUND,
            _ => ENGINE_ERROR,
        }
    }

    /// Every kind, in the order of [`ErrorKind::to_byte`].
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::InvalidInput,
        ErrorKind::Busy,
        ErrorKind::System,
        ErrorKind::CannotInvoke,
        ErrorKind::CommandNotFound,
    ];

    /// One byte, for the report pipe (see `report.rs`).
    pub fn to_byte(self) -> u8 {
        ErrorKind::ALL
            .iter()
            .position(|k| *k == self)
            .expect("listed") as u8
    }

    pub fn from_byte(byte: u8) -> Option<ErrorKind> {
        ErrorKind::ALL.get(usize::from(byte)).copied()
    }

    /// A stable lower-case name (`not found`, `conflict`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Busy => "busy",
            ErrorKind::System => "system",
            ErrorKind::CannotInvoke => "cannot invoke",
            ErrorKind::CommandNotFound => "command not found",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure that ends a run: printed as one line, exited with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub code: i32,
    pub message: String,
}

impl Error {
    /// An error with exit code `code`; its kind follows from the code
    /// (126 cannot invoke, 127 command not found, otherwise system).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        let kind = match code {
            CANNOT_INVOKE => ErrorKind::CannotInvoke,
            NOT_FOUND => ErrorKind::CommandNotFound,
            _ => ErrorKind::System,
        };
        Error {
            kind,
            code,
            message: message.into(),
        }
    }

    /// An error of `kind`, with that kind's exit code.
    pub fn of(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: kind.code(),
            message: message.into(),
        }
    }

    /// An engine error (exit 125) of kind [`ErrorKind::System`].
    pub fn engine(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::System, message)
    }

    /// No such object (exit 125): `no such container: web`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::NotFound, message)
    }

    /// A clash with what exists (exit 125): a name in use.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::Conflict, message)
    }

    /// A bad flag or value (exit 125).
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::InvalidInput, message)
    }

    /// In use by a live process (exit 125).
    pub fn busy(message: impl Into<String>) -> Self {
        Error::of(ErrorKind::Busy, message)
    }

    /// The same error, its message prefixed with where it happened
    /// (`mount-proc: ...`); kind and code stay.
    pub fn context(self, prefix: impl fmt::Display) -> Self {
        Error {
            message: format!("{prefix}: {}", self.message),
            ..self
        }
    }

    /// The same error with another message (a hint added, a step named);
    /// kind and code stay.
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            ..self
        }
    }

    /// True when the error is of `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_kind_and_code() {
        let cases = [
            (Error::engine("x"), ErrorKind::System, 125),
            (Error::not_found("x"), ErrorKind::NotFound, 125),
            (Error::conflict("x"), ErrorKind::Conflict, 125),
            (Error::invalid("x"), ErrorKind::InvalidInput, 125),
            (Error::busy("x"), ErrorKind::Busy, 125),
            (Error::new(125, "x"), ErrorKind::System, 125),
            (Error::new(126, "x"), ErrorKind::CannotInvoke, 126),
            (Error::new(127, "x"), ErrorKind::CommandNotFound, 127),
            (
                Error::of(ErrorKind::CommandNotFound, "x"),
                ErrorKind::CommandNotFound,
                127,
            ),
        ];
        for (error, kind, code) in cases {
            assert_eq!((error.kind, error.code), (kind, code), "{error:?}");
            assert!(error.is(kind));
        }
    }

    #[test]
    fn context_keeps_the_kind() {
        let error = Error::not_found("no such container: web").context("rm");
        assert_eq!(error.kind, ErrorKind::NotFound);
        assert_eq!(error.message, "rm: no such container: web");
        assert_eq!(error.to_string(), error.message);
        let hinted = Error::busy("in use").with_message("in use: stop it first");
        assert_eq!((hinted.kind, hinted.code), (ErrorKind::Busy, 125));
    }

    #[test]
    fn kinds_fit_in_a_byte() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_byte(kind.to_byte()), Some(kind));
        }
        assert_eq!(ErrorKind::from_byte(200), None);
    }
}
