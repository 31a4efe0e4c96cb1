//! The command line of an image run: chapter 6's options on top of every
//! earlier chapter's, in one struct that later chapters flatten into theirs.

use std::path::PathBuf;

use ch02_namespaces::Spec;
use ch02_namespaces::cli::{ContainerArgs, spec_from_options};
use ch03_cgroups::options::LimitArgs;
use ch04_overlay::cli::StorageArgs;
use ch05_network::cli::NetworkArgs;

use crate::Result;
use crate::platform::Platform;
use crate::pull::PullOptions;
use crate::reference::Reference;
use crate::registry;
use crate::run::{PullPolicy, RunOptions};
use crate::runconfig::Overrides;
use crate::unpack::Policy;

/// Where and how to pull from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// os/arch[/variant] to pick from a multi-platform image.
    #[arg(long)]
    pub platform: Option<String>,
    /// A registry (host:port) that may be spoken to over plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub insecure_registries: Vec<String>,
}

impl RegistryArgs {
    pub fn pull_options(self) -> Result<PullOptions> {
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
/// `run`'s options: the image's, then every earlier chapter's.
#[derive(clap::Args)]
pub struct ImageRunArgs {
    /// Overwrite the image's ENTRYPOINT ("" clears it).
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// The user (name or id, optionally :group) instead of the image's.
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Pull the image before running: missing, always, never.
    #[arg(long, value_name = "WHEN", default_value = "missing", value_parser = parse_pull)]
    pub pull: PullPolicy,
    /// Suppress the pull's progress.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub container: ContainerArgs,
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
    pub image_and_command: Vec<String>,
}
// ANCHOR_END: run_args

fn parse_pull(text: &str) -> std::result::Result<PullPolicy, String> {
    text.parse().map_err(|e: crate::Error| e.message)
}

// ANCHOR: run_image
impl ImageRunArgs {
    /// The container's spec (the root filesystem and command come from the
    /// image) and the run's options, with the state under `root`.
    pub fn into_run(self, root: PathBuf) -> Result<(Spec, RunOptions)> {
        let mut words = self.image_and_command.into_iter();
        let image = words.next().unwrap_or_default();
        // Options end at IMAGE, so a mistyped option lands here.
        if image.starts_with('-') {
            return Err(crate::Error::invalid(format!(
                "unknown flag: {image} (see --help; options go before the image)"
            )));
        }
        let overrides = Overrides {
            entrypoint: self.entrypoint,
            command: words.collect(),
            env: self.container.env.clone(),
            workdir: self
                .container
                .workdir
                .as_ref()
                .map(|w| w.display().to_string()),
            user: self.user,
        };
        // A user-defined network's resolver: this binary (chapter 5).
        let resolver = ch05_network::cli::resolver_launcher(&root);
        let options = RunOptions {
            image: Reference::parse(&image)?,
            pull: self.pull,
            pull_options: self.registry.pull_options()?,
            quiet: self.quiet,
            overrides,
            container: ch05_network::run::RunOptions {
                // The image's layers go below these (`--lower`s on top).
                storage: self.storage.run_options(root, Vec::new(), &self.limits),
                network: ch05_network::run::NetworkOptions {
                    resolver: Some(resolver),
                    ..self.network.options()
                },
            },
        };
        let spec = spec_from_options(self.container, PathBuf::new(), Vec::new())?;
        Ok((spec, options))
    }
}
// ANCHOR_END: run_image
