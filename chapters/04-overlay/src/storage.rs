//! The storage drivers: how a container gets a private, writable root.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// `overlay` stacks the layers under a writable upper directory (Docker's
/// `overlay2`); `vfs` copies them into a plain directory: slow and large,
/// but it works on any filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    Overlay,
    Vfs,
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Storage::Overlay => "overlay",
            Storage::Vfs => "vfs",
        })
    }
}

impl FromStr for Storage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "overlay" | "overlay2" => Ok(Storage::Overlay),
            "vfs" => Ok(Storage::Vfs),
            other => Err(Error::invalid(format!(
                "unknown storage driver {other:?}: use overlay or vfs"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!("overlay".parse::<Storage>().unwrap(), Storage::Overlay);
        assert_eq!("overlay2".parse::<Storage>().unwrap(), Storage::Overlay);
        assert_eq!("vfs".parse::<Storage>().unwrap(), Storage::Vfs);
        assert_eq!(
            "aufs".parse::<Storage>().unwrap_err().message,
            "unknown storage driver \"aufs\": use overlay or vfs"
        );
        assert_eq!(Storage::Vfs.to_string(), "vfs");
    }
}
