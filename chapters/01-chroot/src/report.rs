//! How a child tells its parent why it failed before `exec`.
//!
//! After `fork` the child is a separate process: its errors cannot be
//! returned, only exit codes, and `exit status 127` says little. So the
//! parent opens a pipe with `O_CLOEXEC` before forking. If the child's
//! `exec` succeeds, the kernel closes the write end and the parent reads
//! end-of-file: success. If any step fails, the child writes the error
//! (code, kind and message) into the pipe and exits, and the parent
//! reports it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::Error;
use crate::error::ErrorKind;

/// The parent's end: reads the child's failure, if there was one.
pub struct ReportReader(File);
/// The child's end: closed by a successful exec, or written on failure.
pub struct ReportWriter(File);

/// Opens the report pipe; both ends close on exec.
pub fn report_pipe() -> Result<(ReportReader, ReportWriter), Error> {
    let (read, write): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::engine(format!("cannot create report pipe: {}", e.desc())))?;
    Ok((ReportReader(read.into()), ReportWriter(write.into())))
}

// ANCHOR: report
impl ReportWriter {
    /// Sends `error` to the parent. Best effort: the child exits next.
    pub fn send(mut self, error: &Error) {
        let mut buf = error.code.to_le_bytes().to_vec();
        buf.push(error.kind.to_byte());
        buf.extend_from_slice(error.message.as_bytes());
        let _ = self.0.write_all(&buf);
    }
}

impl ReportReader {
    /// Blocks until the child has exec'd (`None`) or reported a failure.
    pub fn receive(mut self) -> Option<Error> {
        let mut buf = Vec::new();
        let _ = self.0.read_to_end(&mut buf);
        if buf.len() < 5 {
            return None;
        }
        let code = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let message = String::from_utf8_lossy(&buf[5..]).into_owned();
        Some(match ErrorKind::from_byte(buf[4]) {
            Some(kind) => Error {
                kind,
                code,
                message,
            },
            None => Error::new(code, message),
        })
    }
}
// ANCHOR_END: report

/// Chapter 2 closes the parent's end in its cloned child, and may pass the
/// child's end on: both need the descriptors themselves.
impl AsFd for ReportWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsFd for ReportReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<OwnedFd> for ReportWriter {
    fn from(fd: OwnedFd) -> Self {
        ReportWriter(fd.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_crosses_the_pipe() {
        let (reader, writer) = report_pipe().unwrap();
        writer.send(&Error::new(127, "sh: command not found"));
        assert_eq!(
            reader.receive(),
            Some(Error::new(127, "sh: command not found"))
        );
    }

    #[test]
    fn the_kind_crosses_too() {
        let (reader, writer) = report_pipe().unwrap();
        writer.send(&Error::busy("container abc is in use"));
        let error = reader.receive().unwrap();
        assert_eq!((error.kind, error.code), (ErrorKind::Busy, 125));
        assert_eq!(error.message, "container abc is in use");
    }

    #[test]
    fn a_closed_pipe_means_success() {
        let (reader, writer) = report_pipe().unwrap();
        drop(writer);
        assert_eq!(reader.receive(), None);
    }
}
