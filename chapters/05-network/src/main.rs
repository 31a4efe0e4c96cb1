//! `ch05-network`: chapter 4's container connected to a network (bridge,
//! none, host or a named one), with published ports; and the `network`
//! commands that create, list and remove named networks.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{RunArgs, spec_from_args};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::StorageArgs;
use ch05_network::Error;
use ch05_network::cli::{
    NetworkArgs, NetworkCommand, list_containers, remove_containers, resolver_launcher,
    run_resolver,
};
use ch05_network::run::RunOptions;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch05-network",
    version,
    about = "Chapter 5 of berth: containers on a network (veth pairs, a bridge, NAT, published ports)"
)]
struct Cli {
    /// Where containers and networks are kept.
    #[arg(long, global = true, value_name = "DIR", default_value = ch05_network::CHAPTER_ROOT)]
    root: PathBuf,
    /// Print the `ip`, `sysctl` and `iptables` commands equivalent to what
    /// is done (through netlink and iptables-restore), to stderr, as `+ COMMAND`.
    #[arg(long, global = true)]
    show_commands: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default /bin/sh) on a writable layer above ROOTFS, on a network.
    Run(Box<Run>),
    /// List containers (kept until `rm`, unless run with --rm).
    #[command(alias = "ps")]
    Ls,
    /// Remove containers: their upper directories and state.
    Rm {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Manage networks: create, ls, rm.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// The resolver of a user-defined network (started by `run`, not by hand).
    #[command(name = "__resolver", hide = true)]
    Resolver { network: String },
}

#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    network: NetworkArgs,
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
    if cli.show_commands {
        ch05_network::trace::set_sink(|line| eprintln!("+ {line}"));
    }
    match cli.command {
        Command::Run(run) => {
            // A user-defined network's resolver is this binary again.
            let mut network = run.network.options();
            network.resolver = Some(resolver_launcher(&cli.root));
            let options = RunOptions {
                storage: run.storage.run_options(
                    cli.root,
                    vec![run.container.rootfs.clone()],
                    &run.limits,
                ),
                network,
            };
            let spec = spec_from_args(run.container)?;
            ch05_network::run::run(spec, &options)
        }
        Command::Ls => list_containers(&cli.root),
        Command::Rm { containers } => remove_containers(&cli.root, containers),
        Command::Network(command) => command.execute(&cli.root),
        Command::Resolver { network } => run_resolver(&cli.root, &network),
    }
}
