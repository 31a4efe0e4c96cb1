//! `pull` and `image pull`: chapter 6's pull, with Docker's output.

use clap::Args;

#[derive(Args)]
pub struct PullArgs {
    /// Suppress the progress.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: ch06_images::cli::RegistryArgs,
    /// NAME[:TAG|@DIGEST], e.g. busybox or 127.0.0.1:5000/busybox:1.36.
    pub reference: String,
}
