//! `run`: chapter 6's image run, with least privilege.
//!
//! Everything is decided before the container exists (the capability set,
//! the seccomp programs, the device rules), so a bad option creates
//! nothing; then chapter 6 runs the image and this chapter adds its steps
//! (see [`crate::steps`] for where each goes and why there).

use caps::CapsHashSet;
use ch02_namespaces::{Spec, StartSequence};
use seccompiler::BpfProgram;

use crate::devices::{AddDevices, DEFAULT_RULES, DeviceCgroup, host_devices};
use crate::hygiene::CheckWorkdir;
use crate::masks::{MaskPaths, WritableSys};
use crate::options::SecurityOptions;
use crate::seccomp::default_profile::default_profile;
use crate::seccomp::profile::Target;
use crate::seccomp::{SeccompChoice, filter};
use crate::steps::{BoundCapabilities, LeastPrivilege};
use crate::{Result, capabilities};

// ANCHOR: run
/// Runs the image of `options` with `security`; returns the exit code.
pub fn run(
    spec: Spec,
    options: &ch06_images::run::RunOptions,
    security: &SecurityOptions,
) -> Result<i32> {
    run_with(spec, options, security, StartSequence::standard())
}

/// [`run`] with a sequence the caller has added steps to (an engine's
/// monitor records the container as running from one).
pub fn run_with(
    spec: Spec,
    options: &ch06_images::run::RunOptions,
    security: &SecurityOptions,
    sequence: StartSequence,
) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        return Err(crate::Error::engine(
            "run needs root, of the host or of a user namespace (rootless::enter_user_namespace)",
        ));
    }
    let (caps, filters) = confinement(security)?;
    ch06_images::run::run_with(spec, options, sequence, |_, sequence| {
        if security.privileged {
            sequence.child_step_after("mount-sys", Box::new(WritableSys));
        } else if !security.rootless {
            let mut rules = DEFAULT_RULES.to_vec();
            rules.extend(security.devices.iter().map(|d| d.rule.clone()));
            sequence.parent_step(Box::new(DeviceCgroup { rules }));
        }
        if !security.privileged {
            sequence.child_step_after("pivot_root", Box::new(MaskPaths));
        }
        let mut devices = security.devices.clone();
        if security.privileged {
            // The host's, except where --device named the same path.
            let host = host_devices().into_iter();
            let named: Vec<_> = devices.iter().map(|d| d.container.clone()).collect();
            devices.extend(host.filter(|d| !named.contains(&d.container)));
        }
        if !devices.is_empty() {
            sequence.child_step_after("mount-dev", Box::new(AddDevices(devices)));
        }
        sequence.child_step_before("user", Box::new(BoundCapabilities(caps.clone())));
        sequence.child_step(Box::new(CheckWorkdir));
        sequence.child_step(Box::new(LeastPrivilege {
            capabilities: caps,
            no_new_privileges: security.no_new_privileges,
            filters,
        }));
        Ok(())
    })
}
// ANCHOR_END: run

/// The capability set to keep and the seccomp programs to install, decided
/// (and compiled) before anything starts: a bad profile fails early.
pub fn confinement(security: &SecurityOptions) -> Result<(CapsHashSet, Vec<BpfProgram>)> {
    let caps = security.capabilities.resolve()?;
    let profile = match &security.seccomp {
        SeccompChoice::Default => Some(default_profile()),
        SeccompChoice::Profile(profile) => Some(profile.clone()),
        SeccompChoice::Unconfined => None,
    };
    let filters = match profile {
        Some(p) => filter::compile(&p.resolve(&Target::here(capabilities::names(&caps))))?,
        None => Vec::new(),
    };
    Ok((caps, filters))
}
