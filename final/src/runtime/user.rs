//! `process.user`: chapter 6's `user` step switches to it last before the
//! exec gate; the gate (a root-owned pipe) is handed to that user first,
//! or the process could not open it to wait there.

use std::path::PathBuf;

use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::{ParentContext, ParentStep, StartSequence};
use ch06_images::runconfig::User;
use ch06_images::user::SwitchUser;
use nix::unistd::{Gid, Uid, chown};

use crate::Error;

/// Adds the steps for `user`: after chapter 7's bounding set, before its
/// last step (as chapter 7 orders them).
pub fn add_steps(user: User, exec_fifo: Option<PathBuf>, sequence: &mut StartSequence) {
    if let Some(fifo) = exec_fifo {
        sequence.parent_step(Box::new(GateOwner {
            fifo,
            uid: user.uid,
            gid: user.gid,
        }));
    }
    sequence.child_step_before("least-privilege", Box::new(SwitchUser(user)));
}

/// Parent step `gate-owner`: the exec fifo belongs to the container's user.
struct GateOwner {
    fifo: PathBuf,
    uid: u32,
    gid: u32,
}

impl ParentStep for GateOwner {
    fn name(&self) -> &str {
        "gate-owner"
    }
    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error> {
        let userns = ctx.spec.has(Namespace::User);
        let host = |maps: &[ch02_namespaces::idmap::IdMap], id: u32| match userns {
            true => maps.iter().find_map(|m| m.to_host(id)).unwrap_or(id),
            false => id,
        };
        let uid = Uid::from_raw(host(&ctx.spec.uid_map, self.uid));
        let gid = Gid::from_raw(host(&ctx.spec.gid_map, self.gid));
        chown(&self.fifo, Some(uid), Some(gid)).map_err(|e| {
            Error::engine(format!(
                "exec fifo {}: chown: {}",
                self.fifo.display(),
                e.desc()
            ))
        })
    }
}
