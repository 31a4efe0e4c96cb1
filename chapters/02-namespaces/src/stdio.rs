//! The container's stdin, stdout and stderr, its session, and the relay
//! between them and the caller's.
//!
//! Left alone, a container would share the caller's session, process group
//! and terminal. Then `kill(0, SIGTERM)` in the container reaches every
//! process of the caller's group (the user's shell included), and a process
//! holding the caller's terminal can push keystrokes into it with the
//! `TIOCSTI` ioctl: they run as the user once the container exits. So:
//!
//! - the container's first process always calls `setsid`: a session and a
//!   process group of its own, no controlling terminal;
//! - with `-t` it gets a pseudo-terminal of its own ([`crate::terminal`]):
//!   the slave as stdin, stdout, stderr and controlling terminal, the
//!   master relayed by the engine to and from the caller's terminal;
//! - without `-t`, any of the caller's stdio that is a terminal is
//!   replaced by a pipe the engine relays, as Docker does; pipes and files
//!   are passed on as they are.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use ch01_chroot::exit::exit_code;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, dup2_stderr, dup2_stdin, dup2_stdout, pipe2, setsid};

use crate::Error;
use crate::forward::waited_set;
use crate::terminal::{self, RawMode, copy_window_size, is_terminal, make_controlling};

/// The child's side: what becomes its fds 0, 1 and 2 (None: inherited
/// unchanged), and whether fd 0 becomes its controlling terminal.
pub struct ChildStdio {
    fds: [Option<OwnedFd>; 3],
    controlling: bool,
}

/// The parent's side: the ends it relays, and what it relays them to.
pub struct Relay {
    /// The caller's stdin, copied into `input` (a pty master or a pipe).
    input: Option<OwnedFd>,
    /// (container's output end, caller's fd 1 or 2).
    outputs: Vec<(OwnedFd, RawFd)>,
    /// The pty master, for the window size (None without `-t`).
    master: Option<RawFd>,
}

// ANCHOR: prepare
/// Decides the container's stdio: the descriptors `given` by the caller
/// (nothing to relay: the caller reads and writes their other ends); else a
/// pty with `tty`; otherwise a pipe in place of each of the caller's stdio
/// that is a terminal. The relay is None when there is nothing to relay.
pub fn prepare(tty: bool, given: Option<[RawFd; 3]>) -> Result<(ChildStdio, Option<Relay>), Error> {
    if let Some(given) = given {
        // With `tty`, the caller gave a pty's slave: it becomes the
        // container's controlling terminal.
        return Ok((ChildStdio::given(given, tty)?, None));
    }
    let pipe = || {
        pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::engine(format!("pipe: {}", e.desc())))
    };
    if tty {
        let (child, relay) = with_terminal(terminal::open_pty()?)?;
        return Ok((child, Some(relay)));
    }
    let mut child = ChildStdio {
        fds: [None, None, None],
        controlling: false,
    };
    let mut relay = Relay {
        input: None,
        outputs: Vec::new(),
        master: None,
    };
    if is_terminal(0) {
        let (read, write) = pipe()?;
        child.fds[0] = Some(read);
        relay.input = Some(write);
    }
    for fd in [1, 2] {
        if is_terminal(fd) {
            let (read, write) = pipe()?;
            child.fds[fd as usize] = Some(write);
            relay.outputs.push((read, fd));
        }
    }
    let relayed = relay.input.is_some() || !relay.outputs.is_empty();
    Ok((child, relayed.then_some(relay)))
}
// ANCHOR_END: prepare

/// The pty pair (master, slave) as the container's terminal: the slave its
/// stdio and controlling terminal, the master relayed to the caller's stdio.
pub fn with_terminal((master, slave): (OwnedFd, OwnedFd)) -> Result<(ChildStdio, Relay), Error> {
    if is_terminal(0) {
        copy_window_size(0, slave.as_raw_fd());
    }
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| Error::engine(format!("dup: {}", crate::io_reason(&e))))
    };
    let child = ChildStdio {
        fds: [Some(dup(&slave)?), Some(dup(&slave)?), Some(slave)],
        controlling: true,
    };
    let output = dup(&master)?;
    let relay = Relay {
        master: Some(master.as_raw_fd()),
        input: Some(master),
        outputs: vec![(output, 1)],
    };
    Ok((child, relay))
}

impl ChildStdio {
    /// Descriptors the caller chose (an engine's pipes or pty slave),
    /// duplicated here: they become fds 0, 1 and 2; with `controlling`,
    /// fd 0 also becomes the controlling terminal.
    pub fn given(fds: [RawFd; 3], controlling: bool) -> Result<ChildStdio, Error> {
        let dup = |fd: RawFd| {
            // SAFETY: the caller keeps `fd` open for this call; the copy
            // (close-on-exec) is ours.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| Error::engine(format!("dup {fd}: {}", crate::io_reason(&e))))
        };
        Ok(ChildStdio {
            fds: [Some(dup(fds[0])?), Some(dup(fds[1])?), Some(dup(fds[2])?)],
            controlling,
        })
    }
}

// ANCHOR: child_side
impl ChildStdio {
    /// In the child, first thing: a new session (and process group), then
    /// the stdio decided by [`prepare`], and the controlling terminal.
    pub fn apply(self) -> Result<(), Error> {
        setsid().map_err(|e| Error::engine(format!("setsid: {}", e.desc())))?;
        let [stdin, stdout, stderr] = self.fds;
        let fail = |e: nix::Error| Error::engine(format!("dup2: {}", e.desc()));
        if let Some(fd) = &stdin {
            dup2_stdin(fd).map_err(fail)?;
        }
        if let Some(fd) = &stdout {
            dup2_stdout(fd).map_err(fail)?;
        }
        if let Some(fd) = &stderr {
            dup2_stderr(fd).map_err(fail)?;
        }
        if self.controlling {
            make_controlling(std::io::stdin())?;
        }
        Ok(())
    }
}
// ANCHOR_END: child_side

/// Reads into `buf`, retrying on EINTR. Ok(0) at end of file.
fn read(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(n) {
            Ok(n) => return Ok(n as usize),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data` to `fd` (blocking), retrying on EINTR.
fn write_all(fd: RawFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for `data.len()` bytes.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        match Errno::result(n) {
            Ok(n) => data = &data[n as usize..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

// ANCHOR: relay
impl Relay {
    /// The parent's loop while the container runs: the caller's stdin to
    /// the container, its output to the caller's stdout and stderr, and the
    /// signals of [`crate::forward`] (taken from a signalfd, so one `poll`
    /// waits for all three). With a pty, the caller's terminal is in raw
    /// mode until this returns, and SIGWINCH resizes the container's.
    /// Returns the container's exit code, once its output is drained.
    pub fn run(mut self, child: Pid) -> Result<i32, Error> {
        let sys = |what: &'static str| {
            move |e: nix::Error| Error::engine(format!("{what}: {}", e.desc()))
        };
        let signals = SignalFd::with_flags(
            &waited_set(),
            SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
        )
        .map_err(sys("signalfd"))?;
        // Restored when this function returns, whichever way.
        let _raw = self.master.and_then(|_| RawMode::enter(0));
        let mut stdin_open = self.input.is_some();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let mut fds = vec![libc::pollfd {
                fd: signals.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if stdin_open {
                fds.push(libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let first_output = fds.len();
            for (fd, _) in &self.outputs {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // SAFETY: `fds` is a valid array of pollfd of that length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    e => return Err(Error::engine(format!("poll: {}", e.desc()))),
                }
            }
            if fds[0].revents != 0 {
                while let Ok(Some(info)) = signals.read_signal() {
                    let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                        continue;
                    };
                    match signal {
                        Signal::SIGCHLD => {}
                        Signal::SIGWINCH if self.master.is_some() => {
                            copy_window_size(0, self.master.unwrap_or(-1));
                        }
                        // The container has a session of its own: a key
                        // the caller's terminal turned into a signal
                        // reached only us, so it is passed on too.
                        other => {
                            let _ = kill(child, other);
                        }
                    }
                }
                match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                    Ok(status) => {
                        if let Some(code) = exit_code(status) {
                            self.drain(&mut buf);
                            return Ok(code);
                        }
                    }
                    Err(e) => return Err(Error::engine(format!("waitpid: {}", e.desc()))),
                }
            }
            if stdin_open && fds[1].revents != 0 {
                let input = self.input.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
                match read(0, &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        if self.master.is_some() {
                            // End of input on a terminal is ^D (VEOF).
                            let _ = write_all(input, &[4]);
                        } else {
                            self.input = None; // closes the pipe: EOF inside
                        }
                    }
                    Ok(n) => {
                        if write_all(input, &buf[..n]).is_err() {
                            stdin_open = false;
                        }
                    }
                }
            }
            let mut done = Vec::new();
            for (i, pfd) in fds[first_output..].iter().enumerate() {
                if pfd.revents == 0 {
                    continue;
                }
                let (fd, to) = &self.outputs[i];
                match read(fd.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = write_all(*to, &buf[..n]);
                    }
                    // End of file, or EIO: the pty's last slave is closed.
                    _ => done.push(i),
                }
            }
            for i in done.into_iter().rev() {
                self.outputs.remove(i);
            }
        }
    }

    /// After the container exited: what is still buffered in its output
    /// ends, without waiting for processes that may still hold them.
    fn drain(&mut self, buf: &mut [u8]) {
        for (fd, to) in &self.outputs {
            set_nonblocking(fd.as_raw_fd());
            while let Ok(n) = read(fd.as_raw_fd(), buf) {
                if n == 0 {
                    break;
                }
                let _ = write_all(*to, &buf[..n]);
            }
        }
    }
}
// ANCHOR_END: relay
