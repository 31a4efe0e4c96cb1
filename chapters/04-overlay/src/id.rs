//! Container ids and names, as Docker shows them.
//!
//! An id is 32 random bytes in hex (64 characters); people see the first 12.
//! A name is what people type instead: chosen by the user or made up from
//! two words, and unique within a state root.

use std::io::Read;

use crate::Error;

/// How many hex characters of an id `ls` shows.
pub const SHORT_ID_LEN: usize = 12;

// ANCHOR: new_id
/// A fresh random container id: 64 lowercase hex characters.
pub fn new_id() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::engine(format!("reading /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
// ANCHOR_END: new_id

/// The 12-character form shown to people.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(SHORT_ID_LEN)]
}

/// True for a full id as `new_id` makes them.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a user-chosen name against Docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !first_ok || !rest_ok || name.len() > 128 {
        return Err(Error::invalid(format!(
            "invalid container name {name:?}: use a letter or digit, then letters, digits, _ . or - (at most 128)"
        )));
    }
    if is_id(name) {
        return Err(Error::invalid(format!(
            "invalid container name {name:?}: it looks like a container id"
        )));
    }
    Ok(())
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "gentle", "jolly", "keen", "lucid", "merry", "nimble", "proud",
    "quiet", "steady", "swift", "tidy", "vivid", "wise",
];
const VESSELS: &[&str] = &[
    "barge", "brig", "canoe", "clipper", "coracle", "cutter", "dhow", "ferry", "junk", "ketch",
    "punt", "schooner", "sloop", "tender", "trawler", "yawl",
];

/// A made-up name like `steady_schooner`, derived from the id's bytes.
pub fn generated_name(id: &str, attempt: usize) -> String {
    let byte = |i: usize| usize::from_str_radix(id.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    let adjective = ADJECTIVES[(byte(0) + attempt) % ADJECTIVES.len()];
    let vessel = VESSELS[(byte(2) + attempt / ADJECTIVES.len()) % VESSELS.len()];
    if attempt < ADJECTIVES.len() * VESSELS.len() {
        format!("{adjective}_{vessel}")
    } else {
        format!("{adjective}_{vessel}_{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(is_id(&a), "{a}");
        assert!(is_id(&b), "{b}");
        assert_ne!(a, b);
        assert_eq!(short_id(&a).len(), 12);
        assert!(a.starts_with(short_id(&a)));
    }

    #[test]
    fn names_follow_dockers_characters() {
        for good in ["web", "db-1", "a.b_c", "X9", "t"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-web", "_web", "we b", "web/1", "ünï"] {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.code, 125);
            assert!(err.message.starts_with("invalid container name"), "{err}");
        }
        assert!(
            check_name(&"ab".repeat(32)).is_err(),
            "a full hex id is not a name"
        );
    }

    #[test]
    fn generated_names_vary_with_the_attempt() {
        let id = "00".repeat(32);
        assert_eq!(generated_name(&id, 0), "brave_barge");
        assert_eq!(generated_name(&id, 1), "calm_barge");
        assert_ne!(generated_name(&id, 16), generated_name(&id, 0));
        assert_eq!(generated_name(&id, 256), "brave_barge_256");
        assert!(check_name(&generated_name(&new_id().unwrap(), 0)).is_ok());
    }
}
