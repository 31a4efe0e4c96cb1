//! `--userns=private`: the container's ids are a range of host ids that
//! belong to nobody else, handed out in `/etc/subuid` and `/etc/subgid`.
//!
//! Chapter 2 can map container root to any host id; which ids are free
//! for it is the host's business. The shadow utilities keep that list:
//! `berth:100000:65536` in `/etc/subuid` says ids 100000 to 165535 are
//! berth's to use, as `dockremap`'s are Docker's with `userns-remap` and
//! `containers`' are podman's with `--userns=auto`. Chapter 4 then shows
//! the image's files to that range (idmapped layers, or shifted copies).

use std::path::Path;

use ch02_namespaces::Spec;
use ch02_namespaces::cli::UsernsMode;
use ch02_namespaces::idmap::IdMap;
use ch02_namespaces::namespaces::Namespace;

use crate::{Error, Result};

/// The owners whose ranges a root engine may use, in order: its own
/// (`berth`), then root's.
pub const OWNERS: [&str; 3] = ["berth", "root", "0"];

/// The files the shadow utilities keep the ranges in.
pub const SUBUID: &str = "/etc/subuid";
pub const SUBGID: &str = "/etc/subgid";

// ANCHOR: subordinate_range
/// The first range in `text` (a subuid or subgid file) of the first of
/// `owners` that has one, as the map of container id 0 onwards.
pub fn subordinate_range(text: &str, owners: &[&str]) -> Option<IdMap> {
    owners.iter().find_map(|owner| {
        text.lines().find_map(|line| {
            let mut fields = line.trim().split(':');
            let (name, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            let (start, count) = (start.parse().ok()?, count.parse::<u32>().ok()?);
            (name == *owner && count > 0 && fields.next().is_none()).then_some(IdMap {
                inside: 0,
                outside: start,
                count,
            })
        })
    })
}
// ANCHOR_END: subordinate_range

/// The range of `file` for a root engine, or the one-line error that
/// says how to add it.
pub fn range_from(file: &Path) -> Result<IdMap> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::engine(format!("reading {}: {e}", file.display()))),
    };
    subordinate_range(&text, &OWNERS).ok_or_else(|| {
        Error::engine(format!(
            "--userns=private: {} has no range for berth (or root): add one, \
             e.g. `echo berth:100000:65536 >> {0}` (and the same to {1})",
            file.display(),
            if file == Path::new(SUBUID) {
                SUBGID
            } else {
                SUBUID
            }
        ))
    })
}

// ANCHOR: apply
/// Applies `--userns`: with `private`, and no `--uid-map`/`--gid-map` of
/// the user's own (`explicit_maps`), container root is the first id of
/// the host's range for berth. `host` is refused rootless: the engine is
/// itself in a user namespace there.
pub fn apply(
    spec: &mut Spec,
    mode: Option<UsernsMode>,
    explicit_maps: bool,
    rootless: bool,
) -> Result<()> {
    if rootless {
        if mode == Some(UsernsMode::Host) {
            return Err(Error::engine(
                "rootless: --userns=host is not possible, the engine itself runs in a user \
                 namespace (leave it out, or run as root)",
            ));
        }
        return Ok(());
    }
    if spec.has(Namespace::User) && !explicit_maps {
        spec.uid_map = vec![range_from(Path::new(SUBUID))?];
        spec.gid_map = vec![range_from(Path::new(SUBGID))?];
    }
    Ok(())
}
// ANCHOR_END: apply

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_by_owner_in_order() {
        let text = "alice:100000:65536\nroot:300000:65536\n\nberth:200000:1000\n";
        let found = subordinate_range(text, &OWNERS).unwrap();
        assert_eq!(
            (found.inside, found.outside, found.count),
            (0, 200_000, 1000)
        );
        let root = subordinate_range("root:300000:65536", &OWNERS).unwrap();
        assert_eq!(root.outside, 300_000);
        for bad in [
            "",
            "alice:1:2",
            "berth:x:5",
            "berth:5:0",
            "berth:1:2:3",
            "berth:1",
        ] {
            assert_eq!(subordinate_range(bad, &OWNERS), None, "{bad:?}");
        }
    }

    #[test]
    fn a_missing_file_says_how_to_add_a_range() {
        let dir = tempfile::tempdir().unwrap();
        let err = range_from(&dir.path().join("subuid")).unwrap_err();
        assert_eq!(err.code, 125);
        assert!(
            err.message.contains("echo berth:100000:65536"),
            "{}",
            err.message
        );
    }
}
