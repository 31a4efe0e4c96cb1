//! `ch07-security`: chapter 6's images, run with least privilege, with
//! every earlier chapter's options.

use std::path::PathBuf;

use ch01_chroot::cli::{exit_with, parse_or_exit};
use ch02_namespaces::cli::{ContainerArgs, spec_from_options};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::{StorageArgs, list_containers, remove_containers};
use ch05_network::cli::{NetworkArgs, NetworkCommand};
use ch06_images::pull::PullOptions;
use ch06_images::reference::Reference;
use ch06_images::run::PullPolicy;
use ch06_images::runconfig::Overrides;
use ch07_security::hygiene::run_from_sealed_copy;
use ch07_security::options::SecurityArgs;
use ch07_security::rootless;
use ch07_security::{Error, Result};
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
}

/// Where to pull from (chapter 6's options).
#[derive(clap::Args)]
struct RegistryArgs {
    /// A registry (host:port) that may be spoken to over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    insecure_registries: Vec<String>,
}

impl RegistryArgs {
    fn pull_options(self) -> PullOptions {
        let mut options = PullOptions::default();
        options.registry.insecure_registries = self.insecure_registries;
        options
    }
}

// ANCHOR: run_args
#[derive(clap::Args)]
struct Run {
    #[command(flatten)]
    security: SecurityArgs,
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
    /// The image reference, then the command and its arguments (default:
    /// the image's). Options end at IMAGE, as in `docker run`.
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
        let limits = run.limits.limits() != ch03_cgroups::limits::Limits::default();
        rootless::check(&run.network.options().mode.to_string(), limits)?;
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
                ch06_images::pull::pull(&store, &reference, &registry.pull_options(), &progress)?;
            println!("{}", pulled.name);
            Ok(0)
        }
        Command::Ps => list_containers(&root),
        Command::Rm { containers } => remove_containers(&root, containers),
        Command::Network(command) => command.execute(&root),
    }
}

// ANCHOR: run_image
fn run_image(root: PathBuf, mut run: Run, rootless: bool) -> Result<i32> {
    // This chapter's options first: a bad one creates nothing.
    let mut security = run.security.options()?;
    security.rootless = rootless;
    if rootless {
        // overlay's trusted.* attributes are out of a user namespace's reach.
        run.storage.storage = ch04_overlay::storage::Storage::Vfs;
    }
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
    let options = ch06_images::run::RunOptions {
        image: Reference::parse(&image)?,
        pull: run.pull,
        pull_options: run.registry.pull_options(),
        quiet: run.quiet,
        overrides,
        container: ch05_network::run::RunOptions {
            storage: run.storage.run_options(root, Vec::new(), &run.limits),
            network: run.network.options(),
        },
    };
    let mut spec = spec_from_options(run.container, PathBuf::new(), Vec::new())?;
    if rootless {
        rootless::adapt(&mut spec);
    }
    ch07_security::run::run(spec, &options, &security)
}
// ANCHOR_END: run_image
