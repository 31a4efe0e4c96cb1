//! A process that enters a running container (chapter 2's `exec`, the
//! engine's `berth exec`) gets the container's least privilege too: the
//! same bounding set before it becomes the container's user, then
//! no_new_privs, the seccomp filter and the final capability sets last,
//! exactly as the container's first process got them (see [`crate::steps`]).
//! Without this, `docker exec` would be the way around every restriction.

use ch02_namespaces::join::ExecSteps;

use crate::options::SecurityOptions;
use crate::run::confinement;
use crate::{Result, capabilities, seccomp};

// ANCHOR: confine_exec
/// Adds the container's confinement to `steps`.
pub fn confine_exec(security: &SecurityOptions, steps: ExecSteps) -> Result<ExecSteps> {
    let (caps, filters) = confinement(security)?;
    let bounding = caps.clone();
    let no_new_privileges = security.no_new_privileges;
    Ok(steps
        .before_user(move || capabilities::bound(&bounding))
        .child(move || {
            if no_new_privileges {
                nix::sys::prctl::set_no_new_privs().map_err(|e| {
                    crate::Error::engine(format!("prctl(PR_SET_NO_NEW_PRIVS): {}", e.desc()))
                })?;
            }
            capabilities::raise_permitted()?;
            seccomp::filter::install(&filters)?;
            capabilities::apply(&caps)
        }))
}
// ANCHOR_END: confine_exec
