//! `ch07-security`: chapter 6's images, run with least privilege, with
//! every earlier chapter's options.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch04_overlay::cli::{list_containers, remove_containers};
use ch05_network::cli::NetworkCommand;
use ch06_images::cli::{ImageRunArgs, RegistryArgs};
use ch06_images::reference::Reference;
use ch07_security::Result;
use ch07_security::hygiene::run_from_sealed_copy;
use ch07_security::options::SecurityArgs;
use ch07_security::{rootless, userns};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch07-security",
    version,
    about = "Chapter 7 of berth: images run with least privilege (capabilities, seccomp, masked paths)"
)]
struct Cli {
    /// The state directory holding the image store and the containers
    /// [default: /var/lib/berth/ch07; rootless: ~/.local/share/berth/ch07].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run COMMAND (default: the image's) in a new container of IMAGE.
    Run(Box<Run>),
    /// Pull an image from a registry.
    Pull {
        /// The image reference, e.g. 127.0.0.1:5000/busybox:layers.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List containers.
    #[command(alias = "ls")]
    Ps,
    /// Remove containers.
    Rm {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Manage networks (chapter 5's): create, ls, rm.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// A user-defined network's resolver (chapter 5's; started by `run`).
    #[command(name = "__resolver", hide = true)]
    Resolver { network: String },
}

// ANCHOR: run_args
/// Chapter 6's run, with this chapter's options added.
#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    security: SecurityArgs,
    #[command(flatten)]
    image: ImageRunArgs,
}
// ANCHOR_END: run_args

fn main() {
    // Before anything else, and before any thread: from here on the
    // engine runs from a sealed copy of itself.
    if let Err(e) = run_from_sealed_copy() {
        exit_with(Err(e));
    }
    let cli: Cli = parse_or_exit();
    exit_with(execute(cli));
}

fn execute(cli: Cli) -> Result<i32> {
    let root = cli.root.unwrap_or_else(rootless::default_root);
    let rootless = rootless::rootless();
    if let Command::Run(run) = &cli.command
        && rootless
    {
        // Refused before anything exists.
        run.security.options()?;
        let limits = run.image.limits.limits() != ch03_cgroups::limits::Limits::default();
        rootless::check(&run.image.network.options().mode.to_string(), limits)?;
    }
    if rootless {
        rootless::enter_user_namespace()?;
    }
    match cli.command {
        Command::Run(run) => run_image(root, *run, rootless),
        Command::Pull {
            reference,
            registry,
        } => {
            let store = ch06_images::run::image_store(&root)?;
            let reference = Reference::parse(&reference)?;
            let progress = ch06_images::progress::Progress::Hidden;
            let pulled =
                ch06_images::pull::pull(&store, &reference, &registry.pull_options()?, &progress)?;
            println!("{}", pulled.name);
            Ok(0)
        }
        Command::Ps => list_containers(&root),
        Command::Rm { containers } => remove_containers(&root, containers),
        Command::Network(command) => command.execute(&root),
        Command::Resolver { network } => ch05_network::cli::run_resolver(&root, &network),
    }
}

// ANCHOR: run_image
fn run_image(root: PathBuf, mut run: Run, rootless: bool) -> Result<i32> {
    // This chapter's options first: a bad one creates nothing.
    let mut security = run.security.options()?;
    security.rootless = rootless;
    if rootless {
        // overlay's trusted.* attributes are out of a user namespace's reach.
        run.image.storage.storage = ch04_overlay::storage::Storage::Vfs;
    }
    let args = &run.image.container;
    let (userns, explicit_maps) = (
        args.userns,
        !args.uid_map.is_empty() || !args.gid_map.is_empty(),
    );
    let (mut spec, options) = run.image.into_run(root)?;
    userns::apply(&mut spec, userns, explicit_maps, rootless)?;
    if rootless {
        rootless::adapt(&mut spec);
    }
    ch07_security::run::run(spec, &options, &security)
}
// ANCHOR_END: run_image
