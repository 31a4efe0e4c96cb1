//! `ch03-cgroups`: chapter 2's container, with Docker's resource limits.

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{ExecArgs, RunArgs, exec_spec_from_args, spec_from_args};
use ch02_namespaces::{ExecSteps, exec};
use ch03_cgroups::options::LimitArgs;
use ch03_cgroups::run::RunOptions;
use ch03_cgroups::units::parse_duration;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch03-cgroups",
    version,
    about = "Chapter 3 of berth: limit, pause and account a container's resources (cgroups)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default /bin/sh) in new namespaces and a new cgroup.
    Run(Box<Run>),
    /// Run COMMAND inside the running container whose first process is PID, in its cgroup.
    Exec(ExecArgs),
    /// Print this host's cgroup layout (v2, v1 or hybrid) and its hierarchies.
    Info,
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    limits: LimitArgs,
    /// Print the container's memory peak, CPU time and OOM kills when it exits.
    #[arg(long)]
    stats: bool,
    /// Pause (freeze) the container this long after it starts (e.g. 0.5, 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pause_after: Option<std::time::Duration>,
    /// Resume it this long after pausing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1")]
    resume_after: std::time::Duration,
    #[command(flatten)]
    container: RunArgs,
}

fn main() {
    let cli: Cli = parse_or_exit();
    let result = match cli.command {
        Command::Run(run) => {
            let options = RunOptions {
                limits: run.limits.limits(),
                stats: run.stats,
                pause_after: run.pause_after,
                resume_after: run.resume_after,
                name: None,
            };
            spec_from_args(run.container).and_then(|spec| ch03_cgroups::run::run(&spec, &options))
        }
        Command::Exec(args) => exec_spec_from_args(args).and_then(|spec| {
            // ANCHOR: exec
            let target = spec.target;
            let steps = ExecSteps::default()
                .parent(move |pid| ch03_cgroups::join::join_cgroup_of(target, pid));
            exec(&spec, steps)?.wait()
            // ANCHOR_END: exec
        }),
        Command::Info => info().map(|()| 0),
    };
    exit_with(result);
}

/// `info`: the layout, then where berth's cgroups go in each hierarchy.
fn info() -> Result<(), ch03_cgroups::Error> {
    let layout = ch03_cgroups::Layout::detect()?;
    println!("cgroup.layout: {layout}");
    for h in layout.hierarchies() {
        let name = if layout.unified.as_ref() == Some(h) {
            "unified".to_string()
        } else {
            h.controllers.join(",")
        };
        println!(
            "cgroup.hierarchy.{name}: {}",
            h.dir(ch03_cgroups::cgroup::PARENT).display()
        );
    }
    Ok(())
}
