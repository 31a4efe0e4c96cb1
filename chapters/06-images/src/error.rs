//! Errors: chapter 1's one-line message with an exit code and a kind.
//!
//! Everything that goes wrong while pulling or storing an image is an
//! engine error (exit 125), as in Docker; its kind says which: no such
//! image or manifest (not found), a bad reference or digest (invalid
//! input), an image a container stands on (conflict), anything else
//! (system, what [`engine`] makes).

pub use ch01_chroot::Error;

/// The result type of this chapter.
pub type Result<T> = std::result::Result<T, Error>;

/// An engine error (exit 125) from anything printable.
pub fn engine(message: impl Into<String>) -> Error {
    Error::engine(message)
}
