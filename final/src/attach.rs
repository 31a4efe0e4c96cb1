//! The client side of attach (`run` without `-d`, `attach`, `start -a`):
//! the terminal to and from a monitor's socket.
//!
//! With `-t` the caller's terminal goes raw (the container's pty does the
//! line editing) and follows window size changes; the detach keys
//! (Ctrl-P Ctrl-Q) leave the container running. Without a terminal, the
//! signals the command line receives go on to the container (`--sig-proxy`).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use ch02_namespaces::forward::waited_set;
use ch02_namespaces::terminal::{RawMode, is_terminal};
use nix::sys::signal::{SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::frames::{Decoder, Frame};
use crate::{Error, Result};

/// Connects to a running container's monitor (its socket exists while
/// it runs).
pub fn connect(socket: &Path) -> Result<UnixStream> {
    crate::context::short_socket_path(socket)
        .and_then(|(_dir, short)| {
            UnixStream::connect(&short).map_err(|e| Error::engine(e.to_string()))
        })
        .map_err(|e| {
            Error::engine(format!(
                "cannot attach to {}: {}",
                socket.display(),
                e.message
            ))
        })
}

/// How to attach.
pub struct Options {
    pub stdin: bool,
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
    /// The container's first process, for the signals.
    pub pid: Option<nix::unistd::Pid>,
}

/// How the attachment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Detached,
    /// The monitor went away without a code.
    Lost,
}

/// `ctrl-p,ctrl-q` (Docker's default) into bytes.
pub fn parse_detach_keys(text: Option<&str>) -> Result<Vec<u8>> {
    let text = text.unwrap_or("ctrl-p,ctrl-q");
    text.split(',')
        .map(|key| match key.strip_prefix("ctrl-") {
            Some(k) if k.len() == 1 => Ok(k.as_bytes()[0].to_ascii_lowercase() & 0x1f),
            Some("@") => Ok(0),
            None if key.len() == 1 => Ok(key.as_bytes()[0]),
            _ => Err(Error::invalid(format!(
                "invalid detach keys {text:?}: use a list such as ctrl-p,ctrl-q"
            ))),
        })
        .collect()
}

// ANCHOR: relay
/// Relays until the container exits or the user detaches.
pub fn relay(mut stream: UnixStream, options: &Options) -> Result<Ended> {
    let _raw = (options.tty && is_terminal(0))
        .then(|| RawMode::enter(0))
        .flatten();
    if options.tty && is_terminal(0) {
        send_size(&stream);
    }
    let mut original = nix::sys::signal::SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&waited_set()),
        Some(&mut original),
    )
    .map_err(|e| Error::engine(format!("sigprocmask: {}", e.desc())))?;
    let signals = SignalFd::with_flags(
        &waited_set(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .map_err(|e| Error::engine(format!("signalfd: {}", e.desc())))?;
    let ended = pump(&mut stream, options, &signals);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&original), None);
    ended
}

fn pump(stream: &mut UnixStream, options: &Options, signals: &SignalFd) -> Result<Ended> {
    let mut stdin_open = options.stdin;
    let mut decoder = Decoder::default();
    let mut matched = 0;
    let mut buf = vec![0u8; 32 * 1024];
    let sock = stream.as_raw_fd();
    loop {
        let mut fds = vec![pollfd(signals.as_fd().as_raw_fd()), pollfd(sock)];
        if stdin_open {
            fds.push(pollfd(0));
        }
        // SAFETY: `fds` is a valid array of its length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            continue;
        }
        if fds[0].revents != 0 {
            while let Ok(Some(info)) = signals.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) if options.tty => send_size(stream),
                    Ok(Signal::SIGCHLD) | Ok(Signal::SIGWINCH) => {}
                    Ok(signal) if options.sig_proxy && !options.tty => {
                        if let Some(pid) = options.pid {
                            let _ = kill(pid, signal);
                        }
                    }
                    _ => {}
                }
            }
        }
        if fds[1].revents != 0 {
            // SAFETY: valid buffer of its length.
            let n = unsafe { libc::read(sock, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return Ok(Ended::Lost);
            }
            decoder.push(&buf[..n as usize]);
            while let Some(frame) = decoder
                .next_frame()
                .map_err(|e| Error::engine(format!("attach: {e}")))?
            {
                match frame {
                    Frame::Stdout(d) => write_out(1, &d),
                    Frame::Stderr(d) => write_out(2, &d),
                    Frame::Exit(code) => return Ok(Ended::Exited(code)),
                    _ => {}
                }
            }
        }
        if stdin_open && fds.len() > 2 && fds[2].revents != 0 {
            // SAFETY: valid buffer of its length.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                stdin_open = false;
                let _ = Frame::CloseStdin.write_to(stream);
                continue;
            }
            let input = &buf[..n as usize];
            if options.tty {
                for &byte in input {
                    if byte == options.detach_keys.get(matched).copied().unwrap_or(0xff) {
                        matched += 1;
                        if matched == options.detach_keys.len() {
                            return Ok(Ended::Detached);
                        }
                        continue;
                    }
                    // Keys held back that turned out not to be the sequence.
                    let mut held = options.detach_keys[..matched].to_vec();
                    matched = 0;
                    held.push(byte);
                    let _ = Frame::Stdin(held).write_to(stream);
                }
            } else if Frame::Stdin(input.to_vec()).write_to(stream).is_err() {
                stdin_open = false;
            }
        }
    }
}
// ANCHOR_END: relay

/// Our terminal's size to the monitor; (0, 0) when stdin is no terminal,
/// so that the monitor never waits for a size that will not come.
pub fn send_size(mut stream: &UnixStream) {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills one winsize.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut size) } != 0 {
        size.ws_row = 0;
        size.ws_col = 0;
    }
    let _ = Frame::Resize(size.ws_row, size.ws_col).write_to(&mut stream);
}

fn write_out(fd: i32, data: &[u8]) {
    if fd == 1 {
        let _ = std::io::stdout().write_all(data);
        let _ = std::io::stdout().flush();
    } else {
        let _ = std::io::stderr().write_all(data);
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys(None).unwrap(), vec![0x10, 0x11]);
        assert_eq!(parse_detach_keys(Some("ctrl-a,x")).unwrap(), vec![1, b'x']);
        assert!(parse_detach_keys(Some("ctrl-")).is_err());
    }
}
