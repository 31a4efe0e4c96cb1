//! The start sequence: named steps on each side of the sync channel.
//!
//! ```text
//!   parent                                child
//!   ------                                -----
//!   clone(CLONE_NEW*) ------------------> blocks on the sync channel
//!   parent steps (child's pid known):
//!     uid-gid-maps        [ch03: cgroup]
//!   release ----------------------------> child steps, in order:
//!                                           identity, cgroup-namespace,
//!                                           time-namespace, hostname, loopback,
//!                                           mount-propagation, bind-rootfs,
//!                                           mount-proc, mount-sys, mount-dev,
//!                                           pivot_root
//!   reads the report pipe <-------------- exec (closes it) or an error
//!   forwards signals, waits
//!   teardown of parent steps, in reverse
//! ```
//!
//! A later chapter adds its own steps by name, and never edits this one:
//!
//! ```ignore
//! let mut sequence = StartSequence::standard();
//! sequence.parent_step(Box::new(JoinCgroup::new(&cgroup)));
//! sequence.child_step_after("mount-sys", Box::new(MountCgroupfs));
//! ```

use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::spec::Spec;
use crate::steps;
use crate::{Error, inroot};

// ANCHOR: steps
/// A step run by the parent after `clone`, before the child is released.
pub trait ParentStep {
    /// The name errors are reported under (`ch02-namespaces: NAME: reason`).
    fn name(&self) -> &str;
    /// Configures the outside of the waiting child. On error, undo what this
    /// call did itself: `teardown` runs only for steps that succeeded.
    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error>;
    /// Called once the command runs (the child has exec'd, or waits at its
    /// exec gate): an engine records the container as running here.
    fn started(&mut self, _ctx: &ParentContext) {}
    /// Releases what `run` created. Called once the child is gone, on every
    /// path (exit, failure of a later step, drop), in reverse step order.
    fn teardown(&mut self, _ctx: &ParentContext) {}
}

/// A step run by the child after release, before exec.
///
/// The child's mount namespace dies with it, so child steps need no undo.
pub trait ChildStep {
    fn name(&self) -> &str;
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error>;
}

/// What a parent step knows.
pub struct ParentContext<'a> {
    pub spec: &'a Spec,
    /// The child: waiting during `run`, already reaped during `teardown`.
    pub child: Pid,
}

/// What a child step knows.
pub struct ChildContext<'a> {
    pub spec: &'a Spec,
    /// The root filesystem as an absolute host path (until `pivot_root`).
    pub rootfs: PathBuf,
    /// Set by the `pivot_root` step: `/` is the container's root from then on.
    pub pivoted: bool,
}
// ANCHOR_END: steps

// ANCHOR: child_path
impl ChildContext<'_> {
    /// Where `inside` (an absolute path in the container) is right now,
    /// with its symbolic links resolved inside the container's root (never
    /// on the host's side): under the rootfs before `pivot_root`, under `/`
    /// after (where a dangling link's target can then be created).
    pub fn resolve(&self, inside: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let root = if self.pivoted {
            Path::new("/")
        } else {
            self.rootfs.as_path()
        };
        inroot::resolve_in_root(root, inside.as_ref())
    }

    /// [`ChildContext::resolve`] for steps that report errors of their
    /// own. A path that cannot be resolved (a loop of links) becomes one
    /// no system call accepts (it holds a NUL byte), so the step fails
    /// instead of touching anything.
    pub fn path(&self, inside: impl AsRef<Path>) -> PathBuf {
        self.resolve(inside)
            .unwrap_or_else(|_| self.rootfs.join("unresolvable\0path"))
    }
}
// ANCHOR_END: child_path

/// The ordered steps of both sides.
pub struct StartSequence {
    pub(crate) parent: Vec<Box<dyn ParentStep>>,
    pub(crate) child: Vec<Box<dyn ChildStep>>,
}

impl StartSequence {
    /// This chapter's sequence: user namespace maps outside; identity,
    /// namespaces, hostname, mounts and `pivot_root` inside.
    pub fn standard() -> StartSequence {
        StartSequence {
            parent: vec![Box::new(steps::IdMaps)],
            child: vec![
                Box::new(steps::Identity),
                Box::new(steps::CgroupNamespace),
                Box::new(steps::TimeNamespace),
                Box::new(steps::Hostname),
                Box::new(steps::Loopback),
                Box::new(steps::MountPropagation),
                Box::new(steps::BindRootfs),
                Box::new(steps::MountProc),
                Box::new(steps::MountSys),
                Box::new(steps::MountDev),
                Box::new(steps::PivotRoot),
            ],
        }
    }

    /// An empty sequence (for tests and experiments): clone, release, exec.
    pub fn empty() -> StartSequence {
        StartSequence {
            parent: Vec::new(),
            child: Vec::new(),
        }
    }

    /// Appends a parent step (it runs after every step already there).
    pub fn parent_step(&mut self, step: Box<dyn ParentStep>) -> &mut Self {
        self.parent.push(step);
        self
    }

    /// Inserts a parent step before the one named `anchor`.
    pub fn parent_step_before(&mut self, anchor: &str, step: Box<dyn ParentStep>) -> &mut Self {
        let at = position(&self.parent_names(), anchor, "parent");
        self.parent.insert(at, step);
        self
    }

    /// Appends a child step: it runs last, just before exec.
    pub fn child_step(&mut self, step: Box<dyn ChildStep>) -> &mut Self {
        self.child.push(step);
        self
    }

    /// Inserts a child step before the one named `anchor`.
    pub fn child_step_before(&mut self, anchor: &str, step: Box<dyn ChildStep>) -> &mut Self {
        let at = position(&self.child_names(), anchor, "child");
        self.child.insert(at, step);
        self
    }

    /// Inserts a child step after the one named `anchor`.
    pub fn child_step_after(&mut self, anchor: &str, step: Box<dyn ChildStep>) -> &mut Self {
        let at = position(&self.child_names(), anchor, "child");
        self.child.insert(at + 1, step);
        self
    }

    /// The parent steps' names, in order.
    pub fn parent_names(&self) -> Vec<String> {
        self.parent.iter().map(|s| s.name().to_string()).collect()
    }

    /// The child steps' names, in order (`exec` follows them).
    pub fn child_names(&self) -> Vec<String> {
        self.child.iter().map(|s| s.name().to_string()).collect()
    }
}

/// Index of `anchor`. A missing anchor is a bug in the calling chapter,
/// not a user error: it panics naming the steps that exist.
fn position(names: &[String], anchor: &str, side: &str) -> usize {
    names.iter().position(|n| n == anchor).unwrap_or_else(|| {
        panic!(
            "no {side} step named {anchor:?} in the start sequence (have: {})",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);
    impl ChildStep for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn run(&mut self, _: &mut ChildContext) -> Result<(), Error> {
            Ok(())
        }
    }
    impl ParentStep for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn run(&mut self, _: &ParentContext) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn steps_go_where_they_are_anchored() {
        let mut seq = StartSequence::standard();
        seq.child_step_after("mount-sys", Box::new(Named("mount-cgroupfs")))
            .child_step_before("pivot_root", Box::new(Named("before-pivot")))
            .child_step(Box::new(Named("last")));
        seq.parent_step(Box::new(Named("join-cgroup")))
            .parent_step_before("uid-gid-maps", Box::new(Named("first")));
        let child = seq.child_names();
        let at = |n: &str| child.iter().position(|c| c == n).unwrap();
        assert_eq!(at("mount-cgroupfs"), at("mount-sys") + 1);
        assert_eq!(at("before-pivot") + 1, at("pivot_root"));
        assert_eq!(child.last().unwrap(), "last");
        assert_eq!(seq.parent_names(), ["first", "uid-gid-maps", "join-cgroup"]);
    }

    #[test]
    #[should_panic(expected = "no child step named \"nope\"")]
    fn a_missing_anchor_is_a_bug() {
        StartSequence::standard().child_step_after("nope", Box::new(Named("x")));
    }

    #[test]
    fn paths_before_and_after_pivot() {
        let spec = Spec::new("/r", vec![]);
        let mut ctx = ChildContext {
            spec: &spec,
            rootfs: PathBuf::from("/r"),
            pivoted: false,
        };
        assert_eq!(ctx.path("/proc"), Path::new("/r/proc"));
        ctx.pivoted = true;
        assert_eq!(ctx.path("/proc"), Path::new("/proc"));
    }
}
