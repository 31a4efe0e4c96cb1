//! Seccomp profiles in Docker's JSON format, and their resolution for one
//! container: which rules apply on this architecture, this kernel and with
//! this container's capabilities.
//!
//! A profile is a default action plus rules; a rule names syscalls, an
//! action, optional argument comparisons (all must hold), and `includes` /
//! `excludes` conditions (capabilities, architectures, a minimum kernel)
//! that decide whether the rule is used at all.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::syscalls;
use crate::{Error, Result};

/// What the filter answers for a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
    /// Fail with this errno (the syscall does not run).
    Errno(u32),
    KillThread,
    KillProcess,
    Trap,
    Trace(u32),
    Log,
}

/// One comparison of a syscall argument (Docker's `args` entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArgCheck {
    pub index: u8,
    pub op: Op,
    pub value: u64,
    /// The expected value of `MaskedEq` (`value` is then the mask).
    pub value_two: u64,
}

/// Comparison operators, as libseccomp names them (`SCMP_CMP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// Whether a rule applies: every listed condition must hold (`includes`),
/// or none of them (`excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Capability names (`CAP_SYS_ADMIN`): the container holds them all.
    pub caps: Vec<String>,
    /// Docker's architecture names (`amd64`, `arm64`, ...).
    pub arches: Vec<String>,
    /// `major.minor`: the running kernel is at least this.
    pub min_kernel: Option<(u32, u32)>,
}

/// One rule of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCheck>,
    pub includes: Conditions,
    pub excludes: Conditions,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default_action: Action,
    pub rules: Vec<Rule>,
}

/// What one container's filter must do: per action, per syscall number,
/// the alternative argument checks (an empty list: whatever the arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub default_action: Action,
    pub actions: BTreeMap<Action, BTreeMap<i64, BTreeSet<Vec<ArgCheck>>>>,
}

/// Where the profile is resolved: the container's capabilities, the
/// architecture and the kernel.
#[derive(Debug, Clone)]
pub struct Target {
    pub caps: BTreeSet<String>,
    /// Docker's name of this architecture (`amd64`).
    pub arch: &'static str,
    pub kernel: (u32, u32),
}

impl Target {
    /// This machine, for a container holding `caps` (`CAP_*` names).
    pub fn here(caps: BTreeSet<String>) -> Target {
        Target {
            caps,
            arch: docker_arch(),
            kernel: kernel_version(),
        }
    }
}

/// Docker's (Go's) name for the architecture this was built for.
pub fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The running kernel's `major.minor`, from `uname`.
pub fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release).unwrap_or((0, 0))
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl Conditions {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }

    /// Every condition listed holds for `target`.
    fn all_hold(&self, target: &Target) -> bool {
        self.caps.iter().all(|c| target.caps.contains(c))
            && (self.arches.is_empty() || self.arches.iter().any(|a| a == target.arch))
            && self.min_kernel.is_none_or(|k| target.kernel >= k)
    }

    /// Some condition listed holds for `target` (what `excludes` means).
    fn any_holds(&self, target: &Target) -> bool {
        self.caps.iter().any(|c| target.caps.contains(c))
            || self.arches.iter().any(|a| a == target.arch)
            || self.min_kernel.is_some_and(|k| target.kernel >= k)
    }
}

// ANCHOR: resolve
impl Profile {
    /// The rules that apply to `target`, by action and syscall number.
    /// Names this architecture does not have are skipped, as libseccomp
    /// skips them: one profile serves every architecture.
    pub fn resolve(&self, target: &Target) -> Resolved {
        let mut actions: BTreeMap<Action, BTreeMap<i64, BTreeSet<Vec<ArgCheck>>>> = BTreeMap::new();
        for rule in &self.rules {
            if !rule.includes.all_hold(target)
                || (!rule.excludes.is_empty() && rule.excludes.any_holds(target))
                || rule.action == self.default_action
            {
                continue;
            }
            for name in &rule.names {
                let Some(nr) = syscalls::number(name) else {
                    continue;
                };
                let alternatives = actions
                    .entry(rule.action)
                    .or_default()
                    .entry(nr)
                    .or_default();
                alternatives.insert(rule.args.clone());
            }
        }
        // A syscall matched whatever its arguments needs no other check.
        for syscalls in actions.values_mut() {
            for alternatives in syscalls.values_mut() {
                if alternatives.contains(&Vec::new()) {
                    alternatives.retain(|a| a.is_empty());
                }
            }
        }
        Resolved {
            default_action: self.default_action,
            actions,
        }
    }
}
// ANCHOR_END: resolve

// Docker's JSON, as written: parsed, then checked into the types above.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonProfile {
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    syscalls: Vec<JsonRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRule {
    #[serde(default)]
    names: Vec<String>,
    /// The old format's single name.
    name: Option<String>,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<JsonArg>>,
    #[serde(default)]
    includes: JsonConditions,
    #[serde(default)]
    excludes: JsonConditions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonArg {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonConditions {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

/// Parses a profile in Docker's JSON format. Errors name what is wrong.
pub fn parse_profile(text: &str) -> Result<Profile> {
    let json: JsonProfile =
        serde_json::from_str(text).map_err(|e| Error::engine(format!("not a profile: {e}")))?;
    let default_action = parse_action(&json.default_action, json.default_errno_ret)?;
    let mut rules = Vec::new();
    for (i, rule) in json.syscalls.into_iter().enumerate() {
        let at = |m: String| Error::engine(format!("syscalls[{i}]: {m}"));
        let mut names = rule.names;
        names.extend(rule.name);
        if names.is_empty() {
            return Err(at("no syscall names".into()));
        }
        let action = parse_action(&rule.action, rule.errno_ret).map_err(|e| at(e.message))?;
        let args = rule
            .args
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                if a.index > 5 {
                    return Err(at(format!("argument index {} (syscalls have 6)", a.index)));
                }
                Ok(ArgCheck {
                    index: a.index,
                    op: parse_op(&a.op).map_err(|e| at(e.message))?,
                    value: a.value,
                    value_two: a.value_two,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rules.push(Rule {
            names,
            action,
            args,
            includes: conditions(rule.includes).map_err(|e| at(e.message))?,
            excludes: conditions(rule.excludes).map_err(|e| at(e.message))?,
        });
    }
    Ok(Profile {
        default_action,
        rules,
    })
}

fn conditions(json: JsonConditions) -> Result<Conditions> {
    let min_kernel = match json.min_kernel {
        None => None,
        Some(k) => Some(
            parse_version(&k)
                .ok_or_else(|| Error::engine(format!("invalid minKernel {k:?}: use 4.8")))?,
        ),
    };
    Ok(Conditions {
        caps: json.caps,
        arches: json.arches,
        min_kernel,
    })
}

fn parse_action(name: &str, errno: Option<u32>) -> Result<Action> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        // libseccomp's default errno for a bare ERRNO is EPERM.
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(0)),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(Error::engine(
                "action SCMP_ACT_NOTIFY needs a listener, which berth has not",
            ));
        }
        other => return Err(Error::engine(format!("unknown action {other:?}"))),
    })
}

fn parse_op(name: &str) -> Result<Op> {
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        other => return Err(Error::engine(format!("unknown operator {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[&str]) -> Target {
        Target {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            arch: "amd64",
            kernel: (6, 1),
        }
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW",
             "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW",
             "includes": {"arches": ["arm64"]}},
            {"names": ["no_such_call"], "action": "SCMP_ACT_ALLOW"}
        ]
    }"#;

    #[test]
    fn rules_apply_by_caps_arch_and_args() {
        let profile = parse_profile(PROFILE).unwrap();
        assert_eq!(profile.default_action, Action::Errno(1));
        let plain = profile.resolve(&target(&[]));
        let allow = &plain.actions[&Action::Allow];
        assert!(allow[&libc::SYS_read].contains(&Vec::new()));
        assert!(allow.contains_key(&libc::SYS_getpid));
        assert_eq!(
            allow[&libc::SYS_personality].iter().next().unwrap()[0].value,
            8
        );
        assert!(!allow.contains_key(&libc::SYS_mount));
        assert!(!allow.contains_key(&libc::SYS_arch_prctl));
        assert!(plain.actions[&Action::Errno(38)].contains_key(&libc::SYS_clone3));

        let admin = profile.resolve(&target(&["CAP_SYS_ADMIN"]));
        assert!(admin.actions[&Action::Allow].contains_key(&libc::SYS_mount));
        assert!(!admin.actions.contains_key(&Action::Errno(38)));
    }

    #[test]
    fn bad_profiles_say_what_is_wrong() {
        let err = |text: &str| parse_profile(text).unwrap_err().message;
        assert!(err("{").starts_with("not a profile: "));
        assert!(err(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).contains("unknown action"));
        assert!(
            err(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#)
                .starts_with("syscalls[0]: argument index 9")
        );
        assert!(
            err(
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "LIKE"}]}]}"#
            )
            .contains("unknown operator \"LIKE\"")
        );
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_version("6.18.44-fc-v1045"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("x"), None);
    }
}
