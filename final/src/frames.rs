//! The attach protocol between a monitor and its clients (`run`,
//! `attach`, `start -a`), over the monitor's unix socket.
//!
//! Every message is a frame: one byte of kind, four bytes of length (big
//! endian), the payload. Clients send stdin, window sizes and the end of
//! their input; the monitor sends stdout, stderr, and last the exit code.
//! (Docker multiplexes its attach stream with an 8-byte header the same
//! way.)

use std::io::{self, Read, Write};

// ANCHOR: frame
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdin(Vec<u8>),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container exited with this code; the monitor closes after it.
    Exit(i32),
    /// The client's terminal: rows, columns.
    Resize(u16, u16),
    /// The client's input ended.
    CloseStdin,
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, Vec<u8>) = match self {
            Frame::Stdin(d) => (0, d.clone()),
            Frame::Stdout(d) => (1, d.clone()),
            Frame::Stderr(d) => (2, d.clone()),
            Frame::Exit(code) => (3, code.to_be_bytes().to_vec()),
            Frame::Resize(rows, cols) => (4, [rows.to_be_bytes(), cols.to_be_bytes()].concat()),
            Frame::CloseStdin => (5, Vec::new()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }
    // ANCHOR_END: frame

    pub fn write_to(&self, to: &mut impl Write) -> io::Result<()> {
        to.write_all(&self.encode())
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream.
    pub fn read_from(from: &mut impl Read) -> io::Result<Option<Frame>> {
        let mut header = [0u8; 5];
        match from.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too long"));
        }
        let mut payload = vec![0u8; len];
        from.read_exact(&mut payload)?;
        Frame::decode(header[0], payload).map(Some)
    }

    fn decode(kind: u8, payload: Vec<u8>) -> io::Result<Frame> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad frame");
        Ok(match kind {
            0 => Frame::Stdin(payload),
            1 => Frame::Stdout(payload),
            2 => Frame::Stderr(payload),
            3 => Frame::Exit(i32::from_be_bytes(payload.try_into().map_err(|_| bad())?)),
            4 if payload.len() == 4 => Frame::Resize(
                u16::from_be_bytes([payload[0], payload[1]]),
                u16::from_be_bytes([payload[2], payload[3]]),
            ),
            5 => Frame::CloseStdin,
            _ => return Err(bad()),
        })
    }
}

/// Splits a byte stream into frames as it arrives (non-blocking reads).
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too long"));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let payload = self.buf[5..5 + len].to_vec();
        let kind = self.buf[0];
        self.buf.drain(..5 + len);
        Frame::decode(kind, payload).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let frames = [
            Frame::Stdout(b"hi\n".to_vec()),
            Frame::Resize(24, 80),
            Frame::Exit(-1),
            Frame::CloseStdin,
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut decoder = Decoder::default();
        let mut got = Vec::new();
        for chunk in bytes.chunks(3) {
            decoder.push(chunk);
            while let Some(f) = decoder.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        let mut reader = &bytes[..];
        assert_eq!(
            Frame::read_from(&mut reader).unwrap(),
            Some(frames[0].clone())
        );
    }
}
