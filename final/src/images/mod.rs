//! Image commands, as Docker has them: `images`, `rmi`, `tag`, `history`
//! and their long forms under `image` (`image ls`, `image rm`, ...), over
//! chapter 6's store. One module per verb; [`catalog`] is what they share
//! (the store's names grouped by image id, and who uses an image).

pub mod catalog;
pub mod created;
pub mod history;
pub mod inspect;
pub mod list;
pub mod prune;
pub mod pull;
pub mod remove;
pub mod tag;

use clap::{Args, Subcommand};

/// `berth image ...`.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Remove images (refused while a container uses one, unless -f).
    #[command(alias = "remove")]
    Rm(RemoveArgs),
    /// Give an image another name: TARGET refers to SOURCE.
    Tag(TagArgs),
    /// Print images' configs, as JSON.
    Inspect(InspectArgs),
    /// Show the steps an image was built with.
    History(HistoryArgs),
    /// Remove dangling images (-a: every image no container uses).
    Prune(PruneArgs),
    /// Pull an image from a registry (as `berth pull`).
    Pull(pull::PullArgs),
}

/// The short forms at the top level: `images`, `rmi`, `tag`, `history`.
#[derive(Subcommand)]
pub enum ImageShortcut {
    /// List images.
    Images(ListArgs),
    /// Remove images (refused while a container uses one, unless -f).
    Rmi(RemoveArgs),
    /// Give an image another name: TARGET refers to SOURCE.
    Tag(TagArgs),
    /// Show the steps an image was built with.
    History(HistoryArgs),
}

impl From<ImageShortcut> for ImageCommand {
    fn from(short: ImageShortcut) -> ImageCommand {
        match short {
            ImageShortcut::Images(args) => ImageCommand::Ls(args),
            ImageShortcut::Rmi(args) => ImageCommand::Rm(args),
            ImageShortcut::Tag(args) => ImageCommand::Tag(args),
            ImageShortcut::History(args) => ImageCommand::History(args),
        }
    }
}

#[derive(Args)]
pub struct ListArgs {
    /// Show every image (berth keeps no intermediate images: the same list).
    #[arg(short, long)]
    pub all: bool,
    /// Only image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show the digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate image ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// dangling=true|false, label=KEY[=VALUE], reference=PATTERN (repeatable).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// table, json, or a Go template such as '{{.Repository}}:{{.Tag}}'.
    #[arg(long)]
    pub format: Option<String>,
    /// Only this repository (and tag).
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Untag an image even if containers use it (the image stays, untagged).
    #[arg(short, long)]
    pub force: bool,
    /// Accepted for Docker's sake (berth keeps no parent images).
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Args)]
pub struct InspectArgs {
    /// json, or a Go template such as '{{.Os}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Sizes and dates for humans (--human=false: bytes and RFC 3339).
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Do not truncate ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// table, json, or a Go template such as '{{.CreatedBy}}'.
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Every image no container uses, not only dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}
