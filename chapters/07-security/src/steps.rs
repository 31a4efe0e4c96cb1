//! This chapter's steps in chapter 2's start sequence, and the order that
//! makes them work together.
//!
//! ```text
//!   parent: cgroup (ch03) ... devices
//!   child:  ... mount-sys [writable-sys] ... mount-dev add-devices ...
//!           pivot_root mask-paths ... workdir (ch06)
//!           bound-capabilities   bounding set, keep caps across setuid
//!           user (ch06)          groups, gid, uid
//!           check-workdir        the working directory is inside the root
//!           least-privilege      no_new_privs, seccomp, the final sets
//!   exec
//! ```
//!
//! The filter goes in as late as possible, so that it need not allow the
//! engine's own setup, but while `CAP_SYS_ADMIN` is still effective (or
//! no_new_privs is set): the kernel refuses a filter to a process that
//! could then run a set-uid program under it.

use caps::CapsHashSet;
use ch02_namespaces::{ChildContext, ChildStep};
use seccompiler::BpfProgram;

use crate::Result;
use crate::{capabilities, seccomp};

/// Child step `bound-capabilities`, before chapter 6's `user`.
pub struct BoundCapabilities(pub CapsHashSet);

impl ChildStep for BoundCapabilities {
    fn name(&self) -> &str {
        "bound-capabilities"
    }
    fn run(&mut self, _ctx: &mut ChildContext) -> Result<()> {
        capabilities::bound(&self.0)
    }
}

// ANCHOR: least_privilege
/// Child step `least-privilege`, the last before exec.
pub struct LeastPrivilege {
    pub capabilities: CapsHashSet,
    pub no_new_privileges: bool,
    /// Compiled by the parent before `clone`: a bad profile fails early.
    pub filters: Vec<BpfProgram>,
}

impl ChildStep for LeastPrivilege {
    fn name(&self) -> &str {
        "least-privilege"
    }
    fn run(&mut self, _ctx: &mut ChildContext) -> Result<()> {
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs().map_err(|e| {
                crate::Error::engine(format!("prctl(PR_SET_NO_NEW_PRIVS): {}", e.desc()))
            })?;
        }
        capabilities::raise_permitted()?;
        seccomp::filter::install(&self.filters)?;
        capabilities::apply(&self.capabilities)
    }
}
// ANCHOR_END: least_privilege
