//! `volume create|ls|inspect|rm|prune`: named directories that outlive
//! containers, in the engine's root ([`store`]). One module per verb.

pub mod create;
pub mod list;
pub mod prune;
pub mod remove;
pub mod store;

use clap::{Args, Subcommand};

/// `berth volume ...`.
#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (a random name without NAME).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Print volumes as JSON.
    Inspect {
        /// A Go template such as '{{.Mountpoint}}'.
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true, value_name = "VOLUME")]
        volumes: Vec<String>,
    },
    /// Remove volumes (refused while a container uses one).
    #[command(alias = "remove")]
    Rm {
        /// Accepted for Docker's sake: a used volume is still refused.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "VOLUME")]
        volumes: Vec<String>,
    },
    /// Remove every anonymous volume no container uses (-a: every unused one).
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Do not ask.
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    /// The driver: berth has `local`.
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set a label, KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The local driver's options: type=tmpfs|none, o=OPTIONS, device=PATH.
    #[arg(short = 'o', long = "opt", value_name = "OPT=VALUE")]
    pub opts: Vec<String>,
    pub name: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only names.
    #[arg(short, long)]
    pub quiet: bool,
    /// dangling=true|false, name=TEXT, label=KEY[=VALUE] (repeatable).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// json, or a Go template such as '{{.Name}}'.
    #[arg(long)]
    pub format: Option<String>,
}
