//! `ch01-chroot`: run a command inside another root directory.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch01-chroot",
    version,
    about = "Chapter 1 of berth: run a command inside another root directory (chroot)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default /bin/sh) with ROOTFS as its root directory.
    Run {
        /// Directory to use as the root filesystem.
        rootfs: PathBuf,
        /// Command and arguments, resolved inside ROOTFS.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

fn main() {
    let cli: Cli = parse_or_exit();
    match cli.command {
        Command::Run { rootfs, command } => exit_with(ch01_chroot::run::run(&rootfs, &command)),
    }
}
