//! A new network namespace has one device, `lo`, and it is down: bring it
//! up so that 127.0.0.1 works inside, as it does in every Docker container.
//! (Chapter 5 adds `eth0`.)

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::Error;

/// Sets `IFF_UP` on `lo` with the classic `SIOCGIFFLAGS`/`SIOCSIFFLAGS`
/// ioctls on any socket of the namespace.
pub fn bring_up_loopback() -> Result<(), Error> {
    let sys = |what: &str| {
        let e = std::io::Error::last_os_error();
        Error::engine(format!("{what}: {}", crate::io_reason(&e)))
    };
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(sys("socket"));
    }
    // SAFETY: `raw` is a new descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the ioctls read and write the ifreq we pass.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(sys("reading the flags of lo"));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(sys("bringing lo up"));
        }
    }
    Ok(())
}
