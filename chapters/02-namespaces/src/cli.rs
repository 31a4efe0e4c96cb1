//! The command line every chapter binary shares: `run [OPTIONS] <ROOTFS> [COMMAND]...`.
//!
//! Later chapters flatten [`RunArgs`] into their own `run` and add their
//! options next to it, so each binary accepts everything taught before.
//! Chapter 6 runs an image instead of a directory: it flattens
//! [`ContainerArgs`], the options without the positional arguments.

use std::path::PathBuf;

use crate::idmap::IdMap;
use crate::namespaces::Namespace;
use crate::timens::TimeOffsets;
use crate::{Error, ExecSpec, Spec};

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub options: ContainerArgs,
    /// Directory to use as the root filesystem.
    pub rootfs: PathBuf,
    /// Command and arguments, resolved inside ROOTFS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `--userns=MODE`: whether the container has a user namespace of its own.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsernsMode {
    /// The host's: container root is host root (the default, as Docker's).
    Host,
    /// Its own: container root is an unprivileged range of host ids.
    Private,
}

/// The options of a container, whatever its root filesystem comes from.
#[derive(clap::Args, Default)]
pub struct ContainerArgs {
    /// Hostname inside the container (default: a generated 12-digit id).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Keep this namespace shared with the host: pid, uts, ipc, net, cgroup, time (repeatable).
    #[arg(long, value_name = "NS")]
    pub share: Vec<String>,
    /// The user namespace: host (shared: container root is host root) or
    /// private (container root is an unprivileged user on the host); `--userns` alone is private.
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "private")]
    pub userns: Option<UsernsMode>,
    /// User id map INSIDE:OUTSIDE:COUNT (repeatable; implies --userns) [default: 0:100000:65536].
    #[arg(long, value_name = "MAP")]
    pub uid_map: Vec<IdMap>,
    /// Group id map INSIDE:OUTSIDE:COUNT (repeatable; implies --userns) [default: 0:100000:65536].
    #[arg(long, value_name = "MAP")]
    pub gid_map: Vec<IdMap>,
    /// Run berth's minimal init as pid 1: it forwards signals and reaps zombies.
    #[arg(long)]
    pub init: bool,
    /// Clock offsets of the time namespace, in seconds: monotonic=S,boottime=S.
    #[arg(long, value_name = "OFFSETS")]
    pub time_offset: Option<TimeOffsets>,
    /// Set an environment variable, KEY=VALUE, or KEY to copy it from here (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container [default: /].
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Allocate a pseudo-terminal for the container (its own; the caller's terminal is relayed).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Pass descriptors 3 to 3+N-1 on to the command (every other one beyond stdio is closed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Create the container, then wait before exec until `start FIFO` (the create/start split).
    #[arg(long, value_name = "FIFO")]
    pub exec_fifo: Option<PathBuf>,
}

// ANCHOR: spec_from_args
/// Turns the command line into a [`Spec`].
pub fn spec_from_args(args: RunArgs) -> Result<Spec, Error> {
    spec_from_options(args.options, args.rootfs, args.command)
}

/// The options applied to a container on `rootfs` running `command`.
pub fn spec_from_options(
    args: ContainerArgs,
    rootfs: PathBuf,
    command: Vec<String>,
) -> Result<Spec, Error> {
    let mut spec = Spec::new(rootfs, command);
    if let Some(hostname) = &args.hostname {
        // Checked here, before any later chapter creates anything for it.
        crate::hostname::check_hostname(hostname)?;
        spec.set_hostname(hostname);
    }
    for name in &args.share {
        let ns = Namespace::parse(name)?;
        if ns == Namespace::User {
            return Err(Error::invalid(
                "the user namespace is shared unless --userns is given",
            ));
        }
        spec.namespaces.remove(ns);
    }
    if args.hostname.is_some() && !spec.has(Namespace::Uts) {
        return Err(Error::invalid(
            "--hostname needs a uts namespace (remove --share uts)",
        ));
    }
    let maps = !args.uid_map.is_empty() || !args.gid_map.is_empty();
    match args.userns {
        Some(UsernsMode::Host) if maps => {
            return Err(Error::invalid(
                "--uid-map and --gid-map need a user namespace of the container's own: \
                 use --userns=private (or leave out --userns=host)",
            ));
        }
        Some(UsernsMode::Host) => {}
        Some(UsernsMode::Private) => spec.namespaces.insert(Namespace::User),
        None if maps => spec.namespaces.insert(Namespace::User),
        None => {}
    }
    if !args.uid_map.is_empty() {
        spec.uid_map = args.uid_map;
    }
    if !args.gid_map.is_empty() {
        spec.gid_map = args.gid_map;
    }
    spec.init = args.init;
    spec.time_offsets = args.time_offset.unwrap_or_default();
    if args.tty {
        spec.tty = true;
        // As Docker: a terminal's type comes with the terminal.
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".to_string());
        spec.set_env(&format!("TERM={term}"));
    }
    for entry in &args.env {
        match entry.split_once('=') {
            Some(_) => spec.set_env(entry),
            None => {
                if let Ok(value) = std::env::var(entry) {
                    spec.set_env(&format!("{entry}={value}"));
                }
            }
        }
    }
    if let Some(dir) = args.workdir {
        spec.cwd = dir;
    }
    spec.preserve_fds = args.preserve_fds;
    spec.exec_fifo = args.exec_fifo;
    Ok(spec)
}
// ANCHOR_END: spec_from_args

/// `exec [-t] [-e K=V] [-w DIR] PID COMMAND...`: a command inside a running container.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// Allocate a pseudo-terminal for the command (the caller's terminal is relayed).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set an environment variable, KEY=VALUE, or KEY to copy it from here (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container [default: /].
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// The container's first process, as the host numbers it.
    pub pid: i32,
    /// Command and arguments, resolved in the container's PATH.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Turns `exec`'s command line into an [`ExecSpec`]. The environment starts
/// as the one the container's first process was started with (read from
/// `/proc/PID/environ`), then `-e` and `-t` change it, as with `docker exec`.
pub fn exec_spec_from_args(args: ExecArgs) -> Result<ExecSpec, Error> {
    let target = nix::unistd::Pid::from_raw(args.pid);
    let environ = std::fs::read(format!("/proc/{}/environ", args.pid)).unwrap_or_default();
    let mut env: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    };
    if args.tty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".to_string());
        set(format!("TERM={term}"));
    }
    for entry in args.env {
        match entry.split_once('=') {
            Some(_) => set(entry),
            None => {
                if let Ok(value) = std::env::var(&entry) {
                    set(format!("{entry}={value}"));
                }
            }
        }
    }
    let mut spec = ExecSpec::new(target, args.command, env);
    spec.tty = args.tty;
    if let Some(dir) = args.workdir {
        spec.cwd = dir;
    }
    Ok(spec)
}
