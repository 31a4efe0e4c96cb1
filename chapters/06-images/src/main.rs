//! `ch06-images`: pull, list and remove OCI images, and run them on
//! chapter 4's copy-on-write roots, connected by chapter 5, with every
//! earlier chapter's options.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch05_network::cli::{NetworkCommand, list_containers, remove_containers};
use ch06_images::Result;
use ch06_images::cli::{ImageRunArgs, RegistryArgs};
use ch06_images::progress::Progress;
use ch06_images::pull::pull;
use ch06_images::reference::Reference;
use ch06_images::run::{containers_using, image_store};
use ch06_images::store::render_images;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch06-images",
    version,
    about = "Chapter 6 of berth: OCI images pulled from a registry, run on overlay"
)]
struct Cli {
    /// The state directory holding the image store and the containers.
    #[arg(long, default_value = "/var/lib/berth/ch06", global = true)]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pull an image from a registry.
    Pull {
        /// The image reference, e.g. 127.0.0.1:5000/busybox:layers.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
        /// Suppress progress output.
        #[arg(short, long)]
        quiet: bool,
    },
    /// List images.
    Images,
    /// Remove an image and what no other image uses.
    Rmi {
        /// The image reference.
        reference: String,
    },
    /// Run COMMAND (default: the image's) in a new container of IMAGE.
    Run(Box<ImageRunArgs>),
    /// List containers (kept until `rm`, unless run with --rm).
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

fn main() {
    let cli: Cli = parse_or_exit();
    exit_with(execute(cli));
}

fn execute(cli: Cli) -> Result<i32> {
    // Whatever the command, the state root is private (or made so).
    image_store(&cli.root)?;
    match cli.command {
        Command::Run(run) => run_image(cli.root, *run),
        Command::Pull {
            reference,
            registry,
            quiet,
        } => {
            let store = image_store(&cli.root)?;
            let reference = Reference::parse(&reference)?;
            let options = registry.pull_options()?;
            let progress = if quiet {
                Progress::Hidden
            } else {
                Progress::auto()
            };
            if !quiet {
                println!(
                    "{}: Pulling from {}",
                    reference.tag.as_deref().unwrap_or("latest"),
                    reference.repository
                );
            }
            let pulled = pull(&store, &reference, &options, &progress)?;
            if quiet {
                println!("{}", pulled.name);
            } else {
                println!("Digest: {}", pulled.digest);
                println!("Status: Downloaded image for {}", pulled.name);
            }
            Ok(0)
        }
        Command::Images => {
            print!("{}", render_images(&image_store(&cli.root)?.images()?));
            Ok(0)
        }
        Command::Rmi { reference } => {
            let store = image_store(&cli.root)?;
            let name = Reference::parse(&reference)?.to_string();
            let removed =
                store.remove_unless_used(&name, |layer| containers_using(&cli.root, layer))?;
            println!("Untagged: {}", removed.untagged);
            for layer in &removed.layers {
                println!("Deleted layer: {layer}");
            }
            for blob in &removed.blobs {
                println!("Deleted blob: {blob}");
            }
            Ok(0)
        }
        Command::Ps => list_containers(&cli.root),
        Command::Rm { containers } => remove_containers(&cli.root, containers),
        Command::Network(command) => command.execute(&cli.root),
        Command::Resolver { network } => ch05_network::cli::run_resolver(&cli.root, &network),
    }
}

fn run_image(root: PathBuf, run: ImageRunArgs) -> Result<i32> {
    let (spec, options) = run.into_run(root)?;
    ch06_images::run::run(spec, &options)
}
