//! Compiling a resolved profile into classic BPF with seccompiler, and
//! installing it with `seccomp(2)`.
//!
//! seccompiler builds one program per (match action, mismatch action)
//! pair, so a profile with several actions becomes a stack of programs:
//! first the allow-list (its default action for everything else), then one
//! program per other action that answers it for its syscalls and allows
//! the rest. The kernel runs every installed program on each syscall and
//! keeps the most restrictive answer (kill > trap > errno > trace > log >
//! allow; among equals, the last installed), so the stack behaves as one
//! profile.

use std::collections::{BTreeMap, BTreeSet};

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::profile::{Action, ArgCheck, Op, Resolved};
use crate::{Error, Result};

fn action(a: Action) -> SeccompAction {
    match a {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(n) => SeccompAction::Errno(n),
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
        Action::Trap => SeccompAction::Trap,
        Action::Trace(n) => SeccompAction::Trace(n),
        Action::Log => SeccompAction::Log,
    }
}

fn condition(check: &ArgCheck) -> Result<SeccompCondition> {
    let (op, value) = match check.op {
        Op::Ne => (SeccompCmpOp::Ne, check.value),
        Op::Lt => (SeccompCmpOp::Lt, check.value),
        Op::Le => (SeccompCmpOp::Le, check.value),
        Op::Eq => (SeccompCmpOp::Eq, check.value),
        Op::Ge => (SeccompCmpOp::Ge, check.value),
        Op::Gt => (SeccompCmpOp::Gt, check.value),
        // Docker's masked comparison: (arg & value) == valueTwo.
        Op::MaskedEq => (SeccompCmpOp::MaskedEq(check.value), check.value_two),
    };
    SeccompCondition::new(check.index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| Error::engine(format!("seccomp: {e}")))
}

// ANCHOR: one_program
/// One program: `matched` for the syscalls (and arguments) of `rules`,
/// `otherwise` for everything else.
fn program(
    rules: &BTreeMap<i64, BTreeSet<Vec<ArgCheck>>>,
    matched: Action,
    otherwise: Action,
) -> Result<BpfProgram> {
    let fail = |e: seccompiler::BackendError| Error::engine(format!("seccomp: {e}"));
    let mut map = BTreeMap::new();
    for (nr, alternatives) in rules {
        let mut chain = Vec::new();
        for checks in alternatives.iter().filter(|c| !c.is_empty()) {
            let conditions = checks.iter().map(condition).collect::<Result<_>>()?;
            chain.push(SeccompRule::new(conditions).map_err(fail)?);
        }
        // An empty chain: the syscall number alone decides.
        map.insert(*nr, chain);
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(fail)?;
    let filter = SeccompFilter::new(map, action(otherwise), action(matched), arch).map_err(fail)?;
    filter.try_into().map_err(fail)
}
// ANCHOR_END: one_program

/// The programs to install, in order, for `resolved`.
pub fn compile(resolved: &Resolved) -> Result<Vec<BpfProgram>> {
    let mut programs = Vec::new();
    let default = resolved.default_action;
    if default != Action::Allow {
        let allowed = resolved
            .actions
            .get(&Action::Allow)
            .cloned()
            .unwrap_or_default();
        programs.push(program(&allowed, Action::Allow, default)?);
    }
    for (&matched, rules) in &resolved.actions {
        if matched != Action::Allow && matched != default {
            programs.push(program(rules, matched, Action::Allow)?);
        }
    }
    Ok(programs)
}

// ANCHOR: install
/// Installs `programs` on the calling thread, in order. Needs
/// `CAP_SYS_ADMIN` or no_new_privs: a filter must not be able to confuse
/// a set-uid program that gains privileges.
pub fn install(programs: &[BpfProgram]) -> Result<()> {
    for program in programs {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points at `program`, alive for the call; the
        // kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            let e = nix::errno::Errno::last();
            return Err(Error::engine(format!("seccomp: {}", e.desc())));
        }
    }
    Ok(())
}
// ANCHOR_END: install

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::default_profile::default_profile;
    use crate::seccomp::profile::Target;

    #[test]
    fn the_default_profile_compiles_to_two_programs() {
        let target = Target {
            caps: BTreeSet::new(),
            arch: "amd64",
            kernel: (6, 1),
        };
        let programs = compile(&default_profile().resolve(&target)).unwrap();
        // The allow-list (EPERM otherwise) and clone3's ENOSYS.
        assert_eq!(programs.len(), 2);
        assert!(programs[0].len() > 361 && programs[0].len() < 4096);
    }
}
