//! `cargo lab`: set up the host, build fixtures, run the demo and the suite.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo lab",
    version,
    about = "berth's lab: setup, demo, tests, cleanup"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the host (kernel, namespaces, cgroups, overlay, iptables) and install missing packages.
    Setup,
    /// Build the busybox fixture (with /probe inside) and print its path.
    Fixture,
    /// Run the newest chapter on the fixture and show what is isolated and what is not yet.
    Demo,
    /// Setup, fixtures, then the whole test suite; ends with `N passed, N failed`.
    Test {
        /// Extra arguments for `cargo test` (e.g. `-- --test-threads 1`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Remove fixtures and anything berth left on the host.
    Clean,
    /// Time container starts by network mode, interleaved (measurement only).
    Bench(lab::bench::BenchArgs),
    /// The throwaway VM with a pure cgroup v2 kernel: build, test, shell, run.
    Vm(lab::vm::VmArgs),
    /// The workshop: list, start, check, hint, reset, solution, watch, verify, report.
    Exercise(lab::exercise::ExerciseArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => lab::setup::run(),
        Command::Fixture => lab::fixture::ensure().map(|p| println!("{}", p.display())),
        Command::Demo => lab::demo::run(),
        Command::Test { cargo_args } => lab::suite::run(&cargo_args),
        Command::Clean => lab::clean::run(),
        Command::Bench(args) => lab::bench::run(&args),
        Command::Vm(args) => lab::vm::run(&args),
        Command::Exercise(args) => lab::exercise::run(&args),
    };
    if let Err(e) = result {
        eprintln!("cargo lab: {e:#}");
        std::process::exit(1);
    }
}
