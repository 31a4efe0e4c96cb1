//! How a later chapter extends the start sequence without editing chapter 2:
//! one parent step (with a teardown) and one child step, added by name.
//!
//! `cargo run -p ch02-namespaces --example extend -- <ROOTFS> df -h /tmp`

use ch02_namespaces::mounts::{mount_fs, pseudo_fs};
use ch02_namespaces::{
    ChildContext, ChildStep, Error, ParentContext, ParentStep, Spec, StartSequence,
};

// ANCHOR: parent_step
/// Outside: runs while the child waits; its teardown runs after it exits.
struct Announce;

impl ParentStep for Announce {
    fn name(&self) -> &str {
        "announce"
    }
    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error> {
        eprintln!("extend: container {} is waiting to be released", ctx.child);
        Ok(())
    }
    fn teardown(&mut self, ctx: &ParentContext) {
        eprintln!("extend: container {} is gone, tearing down", ctx.child);
    }
}
// ANCHOR_END: parent_step

// ANCHOR: child_step
/// Inside: a fresh tmpfs on /tmp, mounted before `pivot_root` like the rest.
struct MountTmp;

impl ChildStep for MountTmp {
    fn name(&self) -> &str {
        "mount-tmp"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        mount_fs(
            "tmpfs",
            &ctx.path("/tmp"),
            pseudo_fs(),
            Some("mode=1777,size=16m"),
        )
    }
}
// ANCHOR_END: child_step

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(rootfs) = args.next() else {
        eprintln!("usage: extend ROOTFS [COMMAND]...");
        std::process::exit(125);
    };
    // ANCHOR: extend
    let spec = Spec::new(rootfs, args.collect());
    let mut sequence = StartSequence::standard();
    sequence.parent_step(Box::new(Announce));
    sequence.child_step_after("mount-dev", Box::new(MountTmp));
    let code = ch02_namespaces::run(&spec, sequence).unwrap_or_else(|err| {
        eprintln!("extend: {err}");
        err.code
    });
    // ANCHOR_END: extend
    std::process::exit(code);
}
