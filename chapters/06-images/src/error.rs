//! Errors: chapter 1's one-line message with an exit code.
//!
//! Everything that goes wrong while pulling or storing an image is an
//! engine error (exit 125), as in Docker.

pub use ch01_chroot::Error;

/// The result type of this chapter.
pub type Result<T> = std::result::Result<T, Error>;

/// An engine error (exit 125) from anything printable.
pub fn engine(message: impl Into<String>) -> Error {
    Error::engine(message)
}
