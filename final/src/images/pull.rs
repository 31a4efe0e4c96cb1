//! `pull` and `image pull`: chapter 6's pull, with Docker's output.

use clap::Args;

use ch06_images::progress::Progress;
use ch06_images::reference::Reference;

use crate::Result;
use crate::context::Engine;

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

/// Pulls `args.reference`; prints the digest and status (unless quiet),
/// then the image's name.
pub fn pull(engine: &Engine, args: PullArgs) -> Result<i32> {
    let store = engine.images()?;
    let reference = Reference::parse(&args.reference)?;
    let progress = if args.quiet {
        Progress::Hidden
    } else {
        Progress::auto()
    };
    let options = args.registry.pull_options()?;
    let pulled = ch06_images::pull::pull(&store, &reference, &options, &progress)?;
    if !args.quiet {
        println!("Digest: {}", pulled.digest);
        println!("Status: Downloaded image for {}", pulled.name);
    }
    println!("{}", pulled.name);
    Ok(0)
}
