//! `ch02-namespaces`: run a command in new namespaces, with `pivot_root`.

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::StartSequence;
use ch02_namespaces::cli::{ExecArgs, RunArgs, exec_spec_from_args, spec_from_args};
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
    /// Run COMMAND inside the running container whose first process is PID.
    Exec(ExecArgs),
    /// Start a container created with `run --exec-fifo FIFO`: it execs its command.
    Start {
        /// The exec fifo the container waits at.
        fifo: std::path::PathBuf,
    },
}

fn main() {
    let cli: Cli = parse_or_exit();
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
        Command::Exec(args) => exec_spec_from_args(args).and_then(|spec| {
            ch02_namespaces::exec(&spec, ch02_namespaces::ExecSteps::default())?.wait()
        }),
        Command::Start { fifo } => ch02_namespaces::gate::start(&fifo, None).map(|()| 0),
    };
    exit_with(result);
}
