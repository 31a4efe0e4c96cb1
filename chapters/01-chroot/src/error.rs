//! The one error type of the chapter binaries: a message and an exit code.
//!
//! Docker's convention: 125 when the engine itself fails, 126 when the
//! command exists but cannot be invoked, 127 when it cannot be found.

use std::fmt;

/// Exit code for a failure of the engine itself (bad flag, missing rootfs).
pub const ENGINE_ERROR: i32 = 125;
/// Exit code when the command was found but could not be executed.
pub const CANNOT_INVOKE: i32 = 126;
/// Exit code when the command does not exist.
pub const NOT_FOUND: i32 = 127;

/// A failure that ends a run: printed as one line, exited with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl Error {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// An engine error (exit 125).
    pub fn engine(message: impl Into<String>) -> Self {
        Error::new(ENGINE_ERROR, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
