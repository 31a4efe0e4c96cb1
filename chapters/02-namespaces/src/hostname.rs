//! The uts namespace's one job: a hostname of the container's own.

use nix::unistd::sethostname;

use crate::Error;

// ANCHOR: set_hostname
/// Names the container. Only ever called in a new uts namespace: the same
/// call in the host's would rename the host.
pub fn set_hostname(name: &str) -> Result<(), Error> {
    sethostname(name).map_err(|e| Error::engine(e.desc()))
}
// ANCHOR_END: set_hostname
