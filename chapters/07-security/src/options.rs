//! This chapter's options: what a user asks for, checked before anything
//! is created, and the library's form of it.

use std::path::Path;

use crate::capabilities::CapabilityOptions;
use crate::devices::{HostDevice, parse_device};
use crate::seccomp::{SeccompChoice, load_profile};
use crate::{Error, Result};

/// What chapter 7 adds to a run.
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    pub capabilities: CapabilityOptions,
    /// `--privileged`: every capability, no filter, no masks, every device.
    pub privileged: bool,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    pub seccomp: SeccompChoice,
    /// `--device`.
    pub devices: Vec<HostDevice>,
    /// The engine is root of a user namespace of its own (see
    /// [`crate::rootless`]): no cgroup of its own to set device rules in.
    pub rootless: bool,
}

/// The command line of this chapter, flattened into `run`.
#[derive(clap::Args, Debug, Default)]
pub struct SecurityArgs {
    /// Add a capability (NET_ADMIN, SYS_TIME, ..., or ALL) (repeatable).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (NET_RAW, ..., or ALL) (repeatable).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give the container every capability and device, without seccomp or masked paths.
    #[arg(long)]
    pub privileged: bool,
    /// no-new-privileges, seccomp=PROFILE.json or seccomp=unconfined (repeatable).
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Add a host device: HOST[:CONTAINER[:rwm]] (repeatable).
    #[arg(long, value_name = "DEVICE")]
    pub device: Vec<String>,
}

// ANCHOR: options
impl SecurityArgs {
    /// Checks every option (and reads a profile) before anything exists.
    pub fn options(&self) -> Result<SecurityOptions> {
        let mut options = SecurityOptions {
            capabilities: CapabilityOptions {
                add: split_list(&self.cap_add),
                drop: split_list(&self.cap_drop),
                privileged: self.privileged,
            },
            privileged: self.privileged,
            ..SecurityOptions::default()
        };
        // Refuse unknown names now, even if --privileged makes them moot.
        options.capabilities.resolve()?;
        for opt in &self.security_opt {
            // Docker accepts both `key=value` and the older `key:value`.
            let (key, value) = opt
                .split_once(['=', ':'])
                .map_or((opt.as_str(), None), |(k, v)| (k, Some(v)));
            match (key, value) {
                ("no-new-privileges", None | Some("true")) => options.no_new_privileges = true,
                ("no-new-privileges", Some("false")) => options.no_new_privileges = false,
                ("seccomp", Some("unconfined")) => options.seccomp = SeccompChoice::Unconfined,
                ("seccomp", Some(path)) if !path.is_empty() => {
                    options.seccomp = SeccompChoice::Profile(load_profile(Path::new(path))?)
                }
                ("apparmor" | "label" | "systempaths", _) => {
                    return Err(Error::engine(format!(
                        "--security-opt {opt}: {key} is not supported by berth"
                    )));
                }
                _ => {
                    return Err(Error::engine(format!(
                        "invalid --security-opt {opt:?}: use no-new-privileges, \
                         seccomp=PROFILE.json or seccomp=unconfined"
                    )));
                }
            }
        }
        if self.privileged {
            options.seccomp = SeccompChoice::Unconfined;
        }
        options.devices = self
            .device
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_>>()?;
        Ok(options)
    }
}
// ANCHOR_END: options

/// `--cap-add A,B` is the same as `--cap-add A --cap-add B`.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(opts: &[&str]) -> SecurityArgs {
        SecurityArgs {
            security_opt: opts.iter().map(|s| s.to_string()).collect(),
            ..SecurityArgs::default()
        }
    }

    #[test]
    fn security_opts() {
        let o = args(&["no-new-privileges", "seccomp=unconfined"])
            .options()
            .unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert!(
            args(&["no-new-privileges:true"])
                .options()
                .unwrap()
                .no_new_privileges
        );
        let err = |o: &[&str]| args(o).options().unwrap_err().message;
        assert!(err(&["nnp"]).starts_with("invalid --security-opt \"nnp\""));
        assert!(err(&["apparmor=x"]).contains("not supported"));
        assert!(
            err(&["seccomp=/berth/none.json"])
                .starts_with("seccomp profile /berth/none.json: No such file")
        );
    }

    #[test]
    fn privileged_means_unconfined() {
        let a = SecurityArgs {
            privileged: true,
            ..SecurityArgs::default()
        };
        assert_eq!(a.options().unwrap().seccomp, SeccompChoice::Unconfined);
    }
}
