//! Content digests: `sha256:<64 hex>`, and a reader that checks one.
//!
//! A digest names content by its hash, so whoever hands us bytes cannot
//! change them without changing the name. Every manifest, config and
//! layer is read through a [`Verifier`] and refused when the hash or the
//! size differs from what the referring descriptor promised.

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result, engine};

/// A sha256 content digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`; other algorithms are refused.
    pub fn parse(text: &str) -> Result<Digest> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(Error::invalid(format!(
                "invalid digest {text:?}: expected sha256:<hex>"
            )));
        };
        if algorithm != "sha256" {
            return Err(Error::invalid(format!(
                "unsupported digest algorithm {algorithm:?} in {text:?}"
            )));
        }
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::invalid(format!(
                "invalid digest {text:?}: expected 64 lowercase hex digits"
            )));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The 64 hex digits (a file name in the store).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as `docker images` shows them.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

// ANCHOR: verifier
/// Hashes and counts what passes through it, refusing to read past `limit`.
pub struct Verifier<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    limit: Option<u64>,
}

impl<R: Read> Verifier<R> {
    /// Wraps `inner`; `limit` is the descriptor's size, when there is one.
    pub fn new(inner: R, limit: Option<u64>) -> Self {
        Verifier {
            inner,
            hasher: Sha256::new(),
            read: 0,
            limit,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads to the end, then compares digest and size with the promise.
    pub fn finish(mut self, what: &str, expected: &Digest) -> Result<R> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| engine(format!("reading {what}: {e}")))?;
        if let Some(limit) = self.limit
            && self.read != limit
        {
            return Err(engine(format!(
                "{what}: size mismatch: expected {limit} bytes, got {}",
                self.read
            )));
        }
        let actual = Digest {
            hex: hex::encode(self.hasher.finalize_reset()),
        };
        if &actual != expected {
            return Err(engine(format!(
                "{what}: digest mismatch: expected {expected}, got {actual}"
            )));
        }
        Ok(self.inner)
    }
}

impl<R: Read> Read for Verifier<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(limit) = self.limit
            && self.read > limit
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than the {limit} bytes the descriptor promised"),
            ));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
// ANCHOR_END: verifier

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(Digest::of(b""), d);
    }

    #[test]
    fn refuses_bad_digests() {
        for bad in [
            "",
            "sha256",
            "sha256:abc",
            "md5:00",
            &EMPTY.to_uppercase(),
            "sha512:00",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verifier_checks_digest_and_size() {
        let d = Digest::of(b"hello");
        assert!(
            Verifier::new(&b"hello"[..], Some(5))
                .finish("x", &d)
                .is_ok()
        );
        let e = Verifier::new(&b"hellO"[..], Some(5))
            .finish("x", &d)
            .unwrap_err();
        assert!(e.message.contains("digest mismatch"), "{e}");
        let e = Verifier::new(&b"hello!"[..], Some(5))
            .finish("x", &d)
            .unwrap_err();
        assert!(e.message.contains("more than the 5 bytes"), "{e}");
        let e = Verifier::new(&b"hell"[..], Some(5))
            .finish("x", &d)
            .unwrap_err();
        assert!(e.message.contains("size mismatch"), "{e}");
    }
}
