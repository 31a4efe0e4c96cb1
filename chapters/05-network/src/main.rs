//! `ch05-network`: chapter 4's container connected to a network (bridge,
//! none, host or a named one), with published ports; and the `network`
//! commands that create, list and remove named networks.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit, program};
use ch02_namespaces::cli::{RunArgs, spec_from_args};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::StorageArgs;
use ch04_overlay::state::now;
use ch04_overlay::{Store, store};
use ch05_network::cidr::Cidr;
use ch05_network::cli::NetworkArgs;
use ch05_network::run::{RunOptions, host_for};
use ch05_network::{Error, network};
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
}

#[derive(Subcommand)]
enum NetworkCommand {
    /// Create a network: a bridge, a subnet, and its NAT and isolation rules.
    Create {
        name: String,
        /// The subnet in CIDR notation [default: a free private /16 or /20].
        #[arg(long, value_name = "CIDR")]
        subnet: Option<Cidr>,
    },
    /// List networks.
    Ls,
    /// Remove networks (refused while a container uses one).
    Rm {
        #[arg(required = true, value_name = "NETWORK")]
        names: Vec<String>,
    },
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
    match cli.command {
        Command::Run(run) => {
            let options = RunOptions {
                storage: ch04_overlay::run::RunOptions {
                    root: cli.root,
                    container: run.storage.spec(vec![run.container.rootfs.clone()]),
                    cgroups: ch03_cgroups::run::RunOptions {
                        limits: run.limits.limits(),
                        ..Default::default()
                    },
                },
                network: run.network.options(),
            };
            let spec = spec_from_args(run.container)?;
            ch05_network::run::run(spec, &options)
        }
        Command::Ls => {
            let store = Store::open(&cli.root)?;
            let _ = ch04_overlay::sweep::sweep(&store);
            print!("{}", store::table(&store.list()?, now()));
            Ok(0)
        }
        Command::Rm { containers } => {
            let store = Store::open(&cli.root)?;
            let _ = ch04_overlay::sweep::sweep(&store);
            let results = containers.into_iter().map(|key| {
                store
                    .find(&key)
                    .and_then(|c| store.remove(&c))
                    .map(|()| key)
            });
            Ok(report_each(results))
        }
        Command::Network(command) => network_command(&cli.root, command),
    }
}

fn network_command(root: &std::path::Path, command: NetworkCommand) -> Result<i32, Error> {
    let host = host_for(root)?;
    match command {
        NetworkCommand::Create { name, subnet } => {
            let created = host.create_network(&name, subnet)?;
            println!("{}", created.name);
        }
        NetworkCommand::Ls => {
            print!("{}", network::table(&host.list_networks()?));
        }
        NetworkCommand::Rm { names } => {
            let results = names
                .into_iter()
                .map(|name| host.remove_network(&name).map(|()| name));
            return Ok(report_each(results));
        }
    }
    Ok(0)
}

/// Prints each success on stdout and each error on stderr, as `docker rm`
/// does; the exit code is the last error's (0 when all succeeded).
fn report_each(results: impl Iterator<Item = Result<String, Error>>) -> i32 {
    let mut code = 0;
    for result in results {
        match result {
            Ok(done) => println!("{done}"),
            Err(e) => {
                eprintln!("{}: {e}", program());
                code = e.code;
            }
        }
    }
    code
}
