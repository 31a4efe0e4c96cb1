//! A terminal of the container's own: a pseudo-terminal pair, the caller's
//! terminal in raw mode while it is relayed, and the window size.
//!
//! A pty is two ends: the *master*, which the engine keeps, and the
//! *slave*, a terminal device (`/dev/pts/N`) that becomes the container's
//! stdin, stdout, stderr and controlling terminal. What the user types is
//! written to the master and comes out of the slave as keyboard input;
//! what the container prints comes back out of the master. The caller's
//! own terminal is put in raw mode meanwhile, so every key (^C, ^Z, ^D)
//! travels as a byte to the container's terminal, whose line discipline
//! turns it into the signal for the container's foreground processes.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::fcntl::{OFlag, open};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use crate::Error;

fn sys(what: &str) -> impl Fn(nix::Error) -> Error + '_ {
    move |e| Error::engine(format!("{what}: {}", e.desc()))
}

// ANCHOR: open_pty
/// A new pseudo-terminal pair, both ends close-on-exec.
pub fn open_pty() -> Result<(OwnedFd, OwnedFd), Error> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(sys("opening /dev/ptmx"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let name = ptsname_r(&master).map_err(sys("ptsname"))?;
    // O_NOCTTY: the engine must not make it *its* controlling terminal.
    let slave = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys(&name))?;
    // SAFETY: PtyMaster owns the descriptor; we take it over.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave))
}
// ANCHOR_END: open_pty

// ANCHOR: open_pty_in
/// A new pseudo-terminal pair of the container whose root is `root` (its
/// `/proc/PID/root`): from the devpts instance mounted at its `/dev/pts`,
/// so that inside, the terminal has a name (`/dev/pts/0`). The path is
/// resolved as the container would (links kept inside its root), and the
/// slave opened from the master (`TIOCGPTPEER`), never by a path the
/// container controls. None when the container has no devpts of its own.
pub fn open_pty_in(root: &std::path::Path) -> Result<Option<(OwnedFd, OwnedFd)>, Error> {
    use nix::fcntl::{OpenHow, ResolveFlag, openat2};
    let root = std::fs::File::open(root)
        .map_err(|e| Error::engine(format!("{}: {}", root.display(), crate::io_reason(&e))))?;
    let how = OpenHow::new()
        .flags(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let master = match openat2(&root, "dev/pts/ptmx", how) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(None),
        Err(e) => return Err(sys("opening the container's /dev/pts/ptmx")(e)),
    };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int; on anything but a pty master it
    // fails, so a file planted in the container's place is refused here.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(sys("unlocking the container's pty")(nix::Error::last()));
    }
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags and returns a new descriptor.
    let slave = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    if slave < 0 {
        return Err(sys("opening the container's pty")(nix::Error::last()));
    }
    // SAFETY: a descriptor just returned to us.
    Ok(Some((master, unsafe { OwnedFd::from_raw_fd(slave) })))
}
// ANCHOR_END: open_pty_in

/// Copies the window size of terminal `from` to terminal `to` (the kernel
/// then sends SIGWINCH to `to`'s foreground process group).
pub fn copy_window_size(from: RawFd, to: RawFd) {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ and TIOCSWINSZ read and write one winsize.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &size);
        }
    }
}

/// True when `fd` is a terminal.
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

// ANCHOR: raw_mode
/// The caller's terminal in raw mode for as long as this guard lives: no
/// echo, no line editing, no signals from keys; every byte as typed. The
/// settings from before come back when it drops, on every path out.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Raw mode on terminal `fd`; None when `fd` is not a terminal.
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: the descriptor outlives the guard (it is stdin).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let saved = tcgetattr(borrowed).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(borrowed, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: as above.
        let borrowed = unsafe { BorrowedFd::borrow_raw(self.fd) };
        // TCSADRAIN: what was written so far is shown in raw mode first.
        let _ = tcsetattr(borrowed, SetArg::TCSADRAIN, &self.saved);
    }
}
// ANCHOR_END: raw_mode

/// In the child, after `setsid`: make terminal `fd` the session's
/// controlling terminal (the container's shell then has job control, and
/// ^C on it signals the container's foreground processes).
pub fn make_controlling(fd: impl AsFd) -> Result<(), Error> {
    // SAFETY: TIOCSCTTY takes an int; 0 means "do not steal".
    let done = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0) };
    if done < 0 {
        return Err(Error::engine(format!(
            "TIOCSCTTY: {}",
            nix::errno::Errno::last().desc()
        )));
    }
    Ok(())
}
