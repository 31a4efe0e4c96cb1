//! `ch04-overlay`: chapter 3's container on a copy-on-write root, and the
//! commands that work on containers after they exit (`ls`, `diff`,
//! `commit`, `rm`).

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{RunArgs, spec_from_args};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::{StorageArgs, list_containers, open_swept, remove_containers};
use ch04_overlay::state::DEFAULT_ROOT;
use ch04_overlay::{Error, diff};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch04-overlay",
    version,
    about = "Chapter 4 of berth: copy-on-write container roots with overlayfs (diff, commit)"
)]
struct Cli {
    /// Where containers are kept.
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default /bin/sh) on a writable layer above ROOTFS.
    Run(Box<Run>),
    /// List containers (kept until `rm`, unless run with --rm).
    #[command(alias = "ps")]
    Ls,
    /// Remove containers: their upper directories and state.
    Rm {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// List what a container changed: A added, C changed, D deleted.
    Diff { container: String },
    /// Write a container's changes to DIR, a new layer for --lower.
    Commit { container: String, dir: PathBuf },
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    container: RunArgs,
}

fn main() {
    let cli: Cli = parse_or_exit();
    exit_with(execute(cli));
}

fn execute(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Run(run) => {
            let base = vec![run.container.rootfs.clone()];
            let options = run.storage.run_options(cli.root, base, &run.limits);
            let spec = spec_from_args(run.container)?;
            ch04_overlay::run::run(spec, &options)
        }
        Command::Ls => list_containers(&cli.root),
        Command::Rm { containers } => remove_containers(&cli.root, containers),
        Command::Diff { container } => {
            let changes = open_swept(&cli.root)?.find(&container)?.diff()?;
            print!("{}", diff::render(&changes));
            Ok(0)
        }
        Command::Commit { container, dir } => {
            open_swept(&cli.root)?.find(&container)?.commit(&dir)?;
            println!("{}", dir.display());
            Ok(0)
        }
    }
}
