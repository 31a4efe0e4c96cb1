//! The uts namespace's one job: a hostname of the container's own.

use nix::unistd::sethostname;

use crate::Error;

/// The longest hostname a uts namespace holds (`HOST_NAME_MAX`).
pub const MAX_HOSTNAME: usize = 64;

// ANCHOR: check_hostname
/// Accepts only an RFC 1123 host name: dot-separated labels of 1 to 63
/// letters, digits and hyphens, no label starting or ending with a hyphen,
/// at most 64 characters in all. The name ends up in files other programs
/// parse line by line (`/etc/hosts`, `/etc/hostname`): a newline or a
/// space in it would add lines and names of the caller's choosing.
pub fn check_hostname(name: &str) -> Result<(), Error> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() > MAX_HOSTNAME || !name.split('.').all(label_ok) {
        return Err(Error::invalid(format!(
            "invalid hostname {name:?}: use 1 to {MAX_HOSTNAME} letters, digits, '-' and '.' (RFC 1123)"
        )));
    }
    Ok(())
}
// ANCHOR_END: check_hostname

// ANCHOR: set_hostname
/// Names the container. Only ever called in a new uts namespace: the same
/// call in the host's would rename the host.
pub fn set_hostname(name: &str) -> Result<(), Error> {
    sethostname(name).map_err(|e| Error::engine(e.desc()))
}
// ANCHOR_END: set_hostname

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1123_names_only() {
        for good in ["box", "web-1", "a.b.example", "0abc", &"x".repeat(63)] {
            check_hostname(good).unwrap();
        }
        for bad in [
            "",
            "x\n6.6.6.6 name",
            "a b",
            "-x",
            "x-",
            "a..b",
            "a_b",
            "tab\t",
            &"x".repeat(65),
        ] {
            assert_eq!(check_hostname(bad).unwrap_err().code, 125, "{bad:?}");
        }
    }
}
