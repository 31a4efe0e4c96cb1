//! `ch04-overlay`: chapter 3's container on a copy-on-write root, and the
//! commands that work on containers after they exit (`ls`, `diff`,
//! `commit`, `rm`).

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{RunArgs, spec_from_args};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::StorageArgs;
use ch04_overlay::run::RunOptions;
use ch04_overlay::state::{DEFAULT_ROOT, now};
use ch04_overlay::{Error, Store, diff, store};
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
    if let Command::Run(run) = cli.command {
        let options = RunOptions {
            root: cli.root,
            container: run.storage.spec(vec![run.container.rootfs.clone()]),
            cgroups: ch03_cgroups::run::RunOptions {
                limits: run.limits.limits(),
                ..Default::default()
            },
        };
        let spec = spec_from_args(run.container)?;
        return ch04_overlay::run::run(spec, &options);
    }
    let store = Store::open(&cli.root)?;
    let _ = ch04_overlay::sweep::sweep(&store);
    match cli.command {
        Command::Run(_) => unreachable!("handled above"),
        Command::Ls => print!("{}", store::table(&store.list()?, now())),
        Command::Rm { containers } => {
            // Remove what can be removed; report the rest.
            let mut failed = None;
            for key in containers {
                match store.find(&key).and_then(|c| store.remove(&c)) {
                    Ok(()) => println!("{key}"),
                    Err(e) => {
                        eprintln!("{}: {e}", ch01_chroot::cli::program());
                        failed = Some(e.code);
                    }
                }
            }
            return Ok(failed.unwrap_or(0));
        }
        Command::Diff { container } => print!("{}", diff::render(&store.find(&container)?.diff()?)),
        Command::Commit { container, dir } => {
            store.find(&container)?.commit(&dir)?;
            println!("{}", dir.display());
        }
    }
    Ok(0)
}
