//! The monitor's I/O loop: the container's output to its log and to the
//! attached clients, the clients' input to the container.
//!
//! It runs on a thread of the monitor, started once the container runs
//! (after `clone`: a thread must not exist when the start sequence clones,
//! see chapter 2). One `poll` waits for everything: the container's
//! stdout and stderr (or its pty), the attach socket, the clients, and a
//! pipe on which the monitor's main thread sends the exit code.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use crate::frames::{Decoder, Frame};
use crate::logfile::LogWriter;

/// One attached client.
pub struct Client {
    pub stream: UnixStream,
    decoder: Decoder,
}

impl Client {
    pub fn new(stream: UnixStream) -> Client {
        // A client that stops reading is dropped, not waited for.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        Client {
            stream,
            decoder: Decoder::default(),
        }
    }
}

/// Everything the loop serves.
pub struct Io {
    /// (container's output end, 0 stdout / 1 stderr); one pty master with `-t`.
    pub outputs: Vec<(OwnedFd, usize)>,
    /// The container's input end (`-i`): a pipe, or the pty master.
    pub input: Option<OwnedFd>,
    /// The pty master, for window sizes.
    pub master: Option<RawFd>,
    pub listener: UnixListener,
    pub clients: Vec<Client>,
    pub log: LogWriter,
    /// The main thread writes the exit code here once the container is gone.
    pub exit: OwnedFd,
}

/// Reads without blocking; Ok(0) at end of file.
fn read_now(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for its length; MSG_DONTWAIT is per call.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn recv_now(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: as above.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn write_fd(fd: RawFd, data: &[u8]) -> bool {
    let mut file = std::mem::ManuallyDrop::new(unsafe {
        // SAFETY: borrowed for this write only; ManuallyDrop keeps it open.
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    file.write_all(data).is_ok()
}

/// Sets the pty's window size.
pub fn resize(master: RawFd, rows: u16, cols: u16) {
    if rows == 0 || cols == 0 {
        return; // a client without a terminal: keep the size
    }
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
    unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &size) };
}

// ANCHOR: io_loop
impl Io {
    /// Serves until the exit code arrives, then drains the output, sends
    /// the code to every client, and returns.
    pub fn run(mut self) {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let mut fds = vec![
                pollfd(self.exit.as_raw_fd()),
                pollfd(self.listener.as_raw_fd()),
            ];
            fds.extend(self.outputs.iter().map(|(fd, _)| pollfd(fd.as_raw_fd())));
            fds.extend(self.clients.iter().map(|c| pollfd(c.stream.as_raw_fd())));
            // SAFETY: `fds` is a valid array of its length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                continue; // EINTR
            }
            if fds[0].revents != 0 {
                let mut code = [0u8; 4];
                let _ = read_now(self.exit.as_raw_fd(), &mut code);
                self.drain(&mut buf);
                let _ = self.log.flush();
                let exit = Frame::Exit(i32::from_be_bytes(code)).encode();
                for client in &mut self.clients {
                    let _ = client.stream.write_all(&exit);
                }
                return;
            }
            if fds[1].revents != 0
                && let Ok((stream, _)) = self.listener.accept()
            {
                self.clients.push(Client::new(stream));
            }
            let outputs = 2..2 + self.outputs.len();
            let mut closed = Vec::new();
            for (i, pfd) in fds[outputs.clone()].iter().enumerate() {
                if pfd.revents != 0 && !self.pump(i, &mut buf) {
                    closed.push(i);
                }
            }
            let mut gone = Vec::new();
            for (i, pfd) in fds[outputs.end..].iter().enumerate() {
                if pfd.revents != 0 && !self.serve_client(i, &mut buf) {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                self.clients.remove(i);
            }
            for i in closed.into_iter().rev() {
                self.outputs.remove(i);
            }
        }
    }

    /// Copies what output `i` has to the log and the clients; false at its end.
    fn pump(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let (fd, stream) = (self.outputs[i].0.as_raw_fd(), self.outputs[i].1);
        match read_now(fd, buf) {
            Ok(n) if n > 0 => {
                let data = &buf[..n];
                let _ = self.log.write(stream, data);
                let frame = if stream == 0 {
                    Frame::Stdout(data.to_vec())
                } else {
                    Frame::Stderr(data.to_vec())
                }
                .encode();
                self.clients
                    .retain_mut(|c| c.stream.write_all(&frame).is_ok());
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            // End of file, or EIO: the pty's last slave is closed.
            _ => false,
        }
    }

    /// Reads client `i`'s frames; false once it is gone.
    fn serve_client(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let fd = self.clients[i].stream.as_raw_fd();
        match recv_now(fd, buf) {
            Ok(0) => return false,
            Ok(n) => self.clients[i].decoder.push(&buf[..n]),
            Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
        }
        loop {
            match self.clients[i].decoder.next_frame() {
                Ok(Some(frame)) => self.take(frame),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    fn take(&mut self, frame: Frame) {
        match frame {
            Frame::Stdin(data) => {
                if let Some(input) = &self.input
                    && !write_fd(input.as_raw_fd(), &data)
                {
                    self.input = None;
                }
            }
            Frame::CloseStdin => match (self.master, &self.input) {
                // A terminal's end of input is ^D.
                (Some(_), Some(input)) => {
                    write_fd(input.as_raw_fd(), &[4]);
                }
                _ => self.input = None,
            },
            Frame::Resize(rows, cols) => {
                if let Some(master) = self.master {
                    resize(master, rows, cols);
                }
            }
            _ => {}
        }
    }

    /// After the exit: whatever the output ends still hold.
    fn drain(&mut self, buf: &mut [u8]) {
        for i in 0..self.outputs.len() {
            let fd = self.outputs[i].0.as_raw_fd();
            // SAFETY: F_SETFL on a descriptor we own.
            unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) };
            // Until it would block (or ends).
            while self.pump(i, buf) {}
        }
    }
}
// ANCHOR_END: io_loop

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
