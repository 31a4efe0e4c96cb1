//! `--console-socket`: a container with `process.terminal` gets a pty of
//! its own; its master goes to whoever listens on the socket (containerd's
//! shim), as one `SCM_RIGHTS` message whose bytes name the file.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::Error;

// ANCHOR: console
/// Opens a pty (chapter 2's `open_pty`), sends its master to `socket`,
/// returns the slave, the container's terminal.
pub fn console_for(socket: &Path) -> Result<OwnedFd, Error> {
    let (master, slave) = ch02_namespaces::terminal::open_pty()?;
    let stream = UnixStream::connect(socket)
        .map_err(|e| Error::invalid(format!("console socket {}: {e}", socket.display())))?;
    send_fd(&stream, &master, b"/dev/ptmx")
        .map_err(|e| Error::engine(format!("console socket {}: {e}", socket.display())))?;
    Ok(slave)
}
// ANCHOR_END: console

/// Sends `fd` over `stream` with `name` as the message's bytes.
fn send_fd(stream: &UnixStream, fd: &OwnedFd, name: &[u8]) -> std::io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: name.as_ptr() as *mut libc::c_void,
        iov_len: name.len(),
    };
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives
    // the sendmsg call, and the control buffer is CMSG_SPACE bytes long.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::copy_nonoverlapping(
            &raw as *const libc::c_int as *const u8,
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<libc::c_int>(),
        );
        if libc::sendmsg(stream.as_raw_fd(), &msg, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
