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

// ANCHOR: tiny_filter
/// A whole filter, written out: `mkdir` fails with `EACCES`, everything
/// else runs. The kernel hands the program a `struct seccomp_data`
/// (`nr` at offset 0, `arch` at 4, then the arguments); the program
/// answers with a return value. This is what seccompiler generates for
/// that one rule (a test checks it).
pub fn tiny_filter() -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // A = *(u32 *)(data + k)
    const JEQ_K: u16 = 0x15; // if A == k, skip jt, else skip jf
    const JA: u16 = 0x05; // skip k
    const RET_K: u16 = 0x06; // return k
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        // Another architecture numbers syscalls differently: kill.
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 1, 0, 0xc000_003e), // AUDIT_ARCH_X86_64
        op(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
        // Which syscall?
        op(LD_W_ABS, 0, 0, 0),
        op(JEQ_K, 0, 1, libc::SYS_mkdir as u32),
        op(JA, 0, 0, 1),
        op(JA, 0, 0, 2),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}
// ANCHOR_END: tiny_filter

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_tiny_filter_is_what_seccompiler_writes() {
        let rules = [(libc::SYS_mkdir, BTreeSet::from([Vec::new()]))].into();
        let compiled = program(&rules, Action::Errno(libc::EACCES as u32), Action::Allow).unwrap();
        assert_eq!(compiled, tiny_filter());
    }
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
