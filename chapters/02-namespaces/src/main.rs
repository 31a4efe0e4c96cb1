//! `ch02-namespaces`: run a command in new namespaces, with `pivot_root`.

use std::path::PathBuf;

use ch02_namespaces::idmap::IdMap;
use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::timens::TimeOffsets;
use ch02_namespaces::{Error, Spec, StartSequence};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch02-namespaces",
    version,
    about = "Chapter 2 of berth: run a command in its own namespaces, with pivot_root and an optional init"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default /bin/sh) in new namespaces with ROOTFS as its root.
    Run(Box<RunArgs>),
    /// Print the steps of the start sequence, parent side then child side.
    Steps,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Hostname inside the container (default: a generated 12-digit id).
    #[arg(long)]
    hostname: Option<String>,
    /// Keep this namespace shared with the host: pid, uts, ipc, net, cgroup, time (repeatable).
    #[arg(long, value_name = "NS")]
    share: Vec<String>,
    /// Add a user namespace: container root is an unprivileged user on the host.
    #[arg(long)]
    userns: bool,
    /// User id map INSIDE:OUTSIDE:COUNT (repeatable; implies --userns) [default: 0:100000:65536].
    #[arg(long, value_name = "MAP")]
    uid_map: Vec<IdMap>,
    /// Group id map INSIDE:OUTSIDE:COUNT (repeatable; implies --userns) [default: 0:100000:65536].
    #[arg(long, value_name = "MAP")]
    gid_map: Vec<IdMap>,
    /// Run berth's minimal init as pid 1: it forwards signals and reaps zombies.
    #[arg(long)]
    init: bool,
    /// Clock offsets of the time namespace, in seconds: monotonic=S,boottime=S.
    #[arg(long, value_name = "OFFSETS")]
    time_offset: Option<TimeOffsets>,
    /// Set an environment variable, KEY=VALUE, or KEY to copy it from here (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long, value_name = "DIR", default_value = "/")]
    workdir: PathBuf,
    /// Directory to use as the root filesystem.
    rootfs: PathBuf,
    /// Command and arguments, resolved inside ROOTFS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

// ANCHOR: spec_from_args
/// Turns the command line into a [`Spec`].
fn spec_from_args(args: RunArgs) -> Result<Spec, Error> {
    let mut spec = Spec::new(args.rootfs, args.command);
    if let Some(hostname) = &args.hostname {
        spec.set_hostname(hostname);
    }
    for name in &args.share {
        let ns = Namespace::parse(name)?;
        if ns == Namespace::User {
            return Err(Error::engine(
                "the user namespace is shared unless --userns is given",
            ));
        }
        spec.namespaces.remove(ns);
    }
    if args.hostname.is_some() && !spec.has(Namespace::Uts) {
        return Err(Error::engine(
            "--hostname needs a uts namespace (remove --share uts)",
        ));
    }
    if args.userns || !args.uid_map.is_empty() || !args.gid_map.is_empty() {
        spec.namespaces.insert(Namespace::User);
    }
    if !args.uid_map.is_empty() {
        spec.uid_map = args.uid_map;
    }
    if !args.gid_map.is_empty() {
        spec.gid_map = args.gid_map;
    }
    spec.init = args.init;
    spec.time_offsets = args.time_offset.unwrap_or_default();
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
    spec.cwd = args.workdir;
    Ok(spec)
}
// ANCHOR_END: spec_from_args

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => spec_from_args(*args)
            .and_then(|spec| ch02_namespaces::run(&spec, StartSequence::standard())),
        Command::Steps => {
            let sequence = StartSequence::standard();
            for name in sequence.parent_names() {
                println!("parent: {name}");
            }
            for name in sequence.child_names() {
                println!("child: {name}");
            }
            println!("child: exec");
            Ok(0)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ch02-namespaces: {err}");
            err.code
        }
    };
    std::process::exit(code);
}
