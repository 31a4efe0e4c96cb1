//! The sync channel: the child waits until the parent has set up the outside.
//!
//! A pipe. The child blocks reading it; the parent writes one byte when its
//! steps are done. If the parent gives up (a step failed, or it died), its
//! end closes without a byte: the child reads end-of-file and exits without
//! running anything. Errors travel the other way through chapter 1's report
//! pipe, which closes on `exec`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::Error;

/// The parent's end.
pub struct Release(File);
/// The child's end.
pub struct Wait(File);

/// Opens the channel; both ends close on exec.
pub fn sync_channel() -> Result<(Release, Wait), Error> {
    let (read, write): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::engine(format!("cannot create sync pipe: {}", e.desc())))?;
    Ok((Release(write.into()), Wait(read.into())))
}

impl AsFd for Release {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

// ANCHOR: sync
impl Release {
    /// Lets the child go on. Dropping a `Release` instead tells it to exit.
    pub fn release(mut self) -> Result<(), Error> {
        self.0
            .write_all(b"1")
            .map_err(|e| Error::engine(format!("releasing the child: {}", crate::io_reason(&e))))
    }
}

impl Wait {
    /// Blocks until the parent releases the child (true) or gives up (false).
    pub fn wait(mut self) -> bool {
        let mut byte = [0u8; 1];
        loop {
            match self.0.read(&mut byte) {
                Ok(1) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => return false,
            }
        }
    }
}
// ANCHOR_END: sync

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_and_give_up() {
        let (release, wait) = sync_channel().unwrap();
        release.release().unwrap();
        assert!(wait.wait());
        let (release, wait) = sync_channel().unwrap();
        drop(release);
        assert!(!wait.wait());
    }
}
