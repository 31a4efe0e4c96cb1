//! User namespace id maps: which host ids the container's ids stand for.
//!
//! A new user namespace starts with no mapping at all: every id inside is
//! the overflow id 65534 (`nobody`). The parent, outside, writes
//! `/proc/CHILD/uid_map` and `gid_map` once each, while the child waits;
//! each line says "ids `inside`.. inside are ids `outside`.. on the host,
//! `count` of them".

use std::fmt;
use std::str::FromStr;

use nix::unistd::{Pid, geteuid};

use crate::Error;

/// The default map: container root is host uid/gid 100000, and 65536 ids
/// follow (a range like the ones `/etc/subuid` hands out).
pub const DEFAULT_MAP: IdMap = IdMap {
    inside: 0,
    outside: 100_000,
    count: 65_536,
};

/// One line of a uid or gid map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdMap {
    /// The host id that id `inside` stands for, if this line maps it.
    pub fn to_host(&self, inside: u32) -> Option<u32> {
        let offset = inside.checked_sub(self.inside)?;
        (offset < self.count).then(|| self.outside + offset)
    }
}

impl FromStr for IdMap {
    type Err = Error;

    /// `inside:outside:count` (util-linux 2.39's `--map-users`, and the
    /// order of `/proc/PID/uid_map`) or `outside,inside,count` (2.38's).
    fn from_str(text: &str) -> Result<IdMap, Error> {
        let bad = || {
            Error::invalid(format!(
                "invalid id map {text:?}: expected INSIDE:OUTSIDE:COUNT (e.g. 0:100000:65536)"
            ))
        };
        let (fields, inside_first): (Vec<&str>, bool) = if text.contains(':') {
            (text.split(':').collect(), true)
        } else {
            (text.split(',').collect(), false)
        };
        let [a, b, count] = fields[..] else {
            return Err(bad());
        };
        let num = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let (inside, outside) = if inside_first {
            (num(a)?, num(b)?)
        } else {
            (num(b)?, num(a)?)
        };
        let count = num(count)?;
        if count == 0 || inside.checked_add(count).is_none() || outside.checked_add(count).is_none()
        {
            return Err(bad());
        }
        Ok(IdMap {
            inside,
            outside,
            count,
        })
    }
}

impl fmt::Display for IdMap {
    /// The `/proc/PID/uid_map` line: `inside outside count`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

// ANCHOR: write_id_maps
/// Writes the child's uid and gid maps (the parent does this, while the
/// child waits on the sync channel).
///
/// Each file takes exactly one `write`, once. A writer without
/// `CAP_SETGID` over the parent namespace (an unprivileged user) must first
/// write `deny` to `setgroups`, or the kernel refuses the gid map: otherwise
/// the child could drop a supplementary group that denies it access.
/// berth's parent is root, so it leaves `setgroups` allowed, and the child
/// itself clears the host's supplementary groups.
pub fn write_id_maps(child: Pid, uid_map: &[IdMap], gid_map: &[IdMap]) -> Result<(), Error> {
    let proc = format!("/proc/{child}");
    if !geteuid().is_root() {
        write_once(&format!("{proc}/setgroups"), "deny")?;
    }
    write_once(&format!("{proc}/uid_map"), &map_text(uid_map))?;
    write_once(&format!("{proc}/gid_map"), &map_text(gid_map))?;
    Ok(())
}
// ANCHOR_END: write_id_maps

/// The text of a map file: one `inside outside count` line per entry.
pub fn map_text(map: &[IdMap]) -> String {
    map.iter().map(|m| format!("{m}\n")).collect()
}

fn write_once(path: &str, text: &str) -> Result<(), Error> {
    // Named without the pid: `writing uid_map: Invalid argument`.
    let file = path.rsplit('/').next().unwrap_or(path);
    std::fs::write(path, text)
        .map_err(|e| Error::engine(format!("writing {file}: {}", crate::io_reason(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_syntaxes() {
        let colon: IdMap = "0:100000:65536".parse().unwrap();
        let comma: IdMap = "100000,0,65536".parse().unwrap();
        assert_eq!(colon, DEFAULT_MAP);
        assert_eq!(comma, DEFAULT_MAP);
        assert_eq!(colon.to_string(), "0 100000 65536");
    }

    #[test]
    fn bad_maps_are_refused() {
        for bad in [
            "",
            "0:1",
            "a:b:c",
            "0:100000:0",
            "0:4294967295:2",
            "1:2:3:4",
        ] {
            let err = bad.parse::<IdMap>().unwrap_err();
            assert_eq!(err.code, 125, "{bad}");
            assert!(err.message.contains("INSIDE:OUTSIDE:COUNT"), "{bad}");
        }
    }

    #[test]
    fn translation() {
        assert_eq!(DEFAULT_MAP.to_host(0), Some(100_000));
        assert_eq!(DEFAULT_MAP.to_host(65_535), Some(165_535));
        assert_eq!(DEFAULT_MAP.to_host(65_536), None);
        assert_eq!(
            map_text(&[DEFAULT_MAP, "1000:2000:1".parse().unwrap()]),
            "0 100000 65536\n1000 2000 1\n"
        );
    }
}
