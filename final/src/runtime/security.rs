//! `process.capabilities`, `process.noNewPrivileges`, `linux.seccomp`,
//! `linux.maskedPaths` and `linux.readonlyPaths` through chapter 7's steps.

use std::path::PathBuf;
use std::str::FromStr;

use caps::{Capability, CapsHashSet};
use ch02_namespaces::{ChildContext, ChildStep, StartSequence};
use ch07_security::masks::{mask, read_only};
use ch07_security::seccomp::filter::compile;
use ch07_security::seccomp::profile::{Target, parse_profile};
use ch07_security::steps::{BoundCapabilities, LeastPrivilege};
use oci_spec::runtime::Spec as Config;
use seccompiler::BpfProgram;

use crate::Error;

/// The bounding set config.json keeps (none listed: none kept).
pub fn capabilities(config: &Config) -> Result<CapsHashSet, Error> {
    let bounding = config
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().clone())
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default();
    bounding
        .iter()
        .map(|cap| {
            let name = format!("CAP_{cap}");
            Capability::from_str(&name)
                .map_err(|_| Error::invalid(format!("config.json: unknown capability {name}")))
        })
        .collect()
}

// ANCHOR: confine
/// Adds chapter 7's steps: the paths hidden or made read-only after
/// `pivot_root`, then the bounding set, and last before the exec gate the
/// kept capabilities and no_new_privileges.
pub fn confine(config: &Config, sequence: &mut StartSequence) -> Result<(), Error> {
    let caps = capabilities(config)?;
    let linux = config.linux().clone().unwrap_or_default();
    let paths = ConfigPaths {
        masked: linux.masked_paths().clone().unwrap_or_default(),
        read_only: linux.readonly_paths().clone().unwrap_or_default(),
    };
    sequence.child_step_after("pivot_root", Box::new(paths));
    let no_new_privileges = config
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    let filters = seccomp(config, &caps)?;
    sequence.child_step(Box::new(BoundCapabilities(caps.clone())));
    sequence.child_step(Box::new(LeastPrivilege {
        capabilities: caps,
        no_new_privileges,
        filters,
    }));
    Ok(())
}
// ANCHOR_END: confine

// ANCHOR: seccomp
/// `linux.seccomp`, compiled by chapter 7. The runtime spec's seccomp
/// object is Docker's profile format without its `includes`/`excludes`
/// (dockerd resolves those before it writes config.json), so chapter 7's
/// parser reads it as it is; a bad one fails `create`, before anything is
/// made. No `linux.seccomp`: no filter, as runc.
fn seccomp(config: &Config, caps: &CapsHashSet) -> Result<Vec<BpfProgram>, Error> {
    let Some(seccomp) = config.linux().as_ref().and_then(|l| l.seccomp().clone()) else {
        return Ok(Vec::new());
    };
    let text = serde_json::to_string(&seccomp)
        .map_err(|e| Error::invalid(format!("config.json: linux.seccomp: {e}")))?;
    let profile = parse_profile(&text)
        .map_err(|e| Error::invalid(format!("config.json: linux.seccomp: {}", e.message)))?;
    let target = Target::here(ch07_security::capabilities::names(caps));
    compile(&profile.resolve(&target))
}
// ANCHOR_END: seccomp

/// Child step `config-paths`: config.json's masked and read-only paths.
struct ConfigPaths {
    masked: Vec<String>,
    read_only: Vec<String>,
}

impl ChildStep for ConfigPaths {
    fn name(&self) -> &str {
        "config-paths"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        for path in &self.read_only {
            let at: PathBuf = ctx.path(path);
            if at.exists() {
                read_only(&at)?;
            }
        }
        for path in &self.masked {
            mask(&ctx.path(path))?;
        }
        Ok(())
    }
}
