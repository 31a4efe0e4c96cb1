//! `ch06-images`: pull, list and remove OCI images, and run them on
//! chapter 4's copy-on-write roots, connected by chapter 5, with every
//! earlier chapter's options.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{ContainerArgs, spec_from_options};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::StorageArgs;
use ch05_network::cli::{NetworkArgs, NetworkCommand, list_containers, remove_containers};
use ch06_images::platform::Platform;
use ch06_images::progress::Progress;
use ch06_images::pull::{PullOptions, pull};
use ch06_images::reference::Reference;
use ch06_images::registry;
use ch06_images::run::{PullPolicy, RunOptions, containers_using, image_store};
use ch06_images::runconfig::Overrides;
use ch06_images::store::render_images;
use ch06_images::unpack::Policy;
use ch06_images::{Error, Result};
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
    Run(Box<Run>),
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
}

/// Where and how to pull from.
#[derive(clap::Args)]
struct RegistryArgs {
    /// os/arch[/variant] to pick from a multi-platform image.
    #[arg(long)]
    platform: Option<String>,
    /// A registry (host:port) that may be spoken to over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    insecure_registries: Vec<String>,
}

impl RegistryArgs {
    fn pull_options(self) -> Result<PullOptions> {
        Ok(PullOptions {
            registry: registry::Options {
                insecure_registries: self.insecure_registries,
                credentials: None,
            },
            platform: self
                .platform
                .as_deref()
                .map(Platform::parse)
                .transpose()?
                .unwrap_or_default(),
            policy: Policy::default(),
        })
    }
}

// ANCHOR: run_args
#[derive(clap::Args)]
struct Run {
    /// Overwrite the image's ENTRYPOINT ("" clears it).
    #[arg(long, value_name = "COMMAND")]
    entrypoint: Option<String>,
    /// The user (name or id, optionally :group) instead of the image's.
    #[arg(short, long, value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// Pull the image before running: missing, always, never.
    #[arg(long, value_name = "WHEN", default_value = "missing", value_parser = parse_pull)]
    pull: PullPolicy,
    /// Suppress the pull's progress.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    container: ContainerArgs,
    /// The image reference (e.g. 127.0.0.1:5000/busybox:layers), then the
    /// command and its arguments (default: the image's Cmd, after its
    /// Entrypoint). Options end at IMAGE, as in `docker run`.
    #[arg(
        value_name = "IMAGE [COMMAND]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    image_and_command: Vec<String>,
}
// ANCHOR_END: run_args

fn parse_pull(text: &str) -> std::result::Result<PullPolicy, String> {
    text.parse().map_err(|e: Error| e.message)
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
    }
}

// ANCHOR: run_image
fn run_image(root: PathBuf, run: Run) -> Result<i32> {
    let mut words = run.image_and_command.into_iter();
    let image = words.next().unwrap_or_default();
    let overrides = Overrides {
        entrypoint: run.entrypoint,
        command: words.collect(),
        env: run.container.env.clone(),
        workdir: run
            .container
            .workdir
            .as_ref()
            .map(|w| w.display().to_string()),
        user: run.user,
    };
    let options = RunOptions {
        image: Reference::parse(&image)?,
        pull: run.pull,
        pull_options: run.registry.pull_options()?,
        quiet: run.quiet,
        overrides,
        container: ch05_network::run::RunOptions {
            // The image's layers go below these (`--lower`s on top).
            storage: run.storage.run_options(root, Vec::new(), &run.limits),
            network: run.network.options(),
        },
    };
    // The root filesystem and the command come from the image.
    let spec = spec_from_options(run.container, PathBuf::new(), Vec::new())?;
    ch06_images::run::run(spec, &options)
}
// ANCHOR_END: run_image
