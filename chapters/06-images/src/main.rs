//! `ch06-images`: pull, list and remove OCI images.
//!
//! `run` joins in when chapter 5's library lands; until then the binary
//! manages the store that `run` will read.

use std::path::PathBuf;
use std::process::ExitCode;

use ch06_images::platform::Platform;
use ch06_images::progress::Progress;
use ch06_images::pull::{PullOptions, pull};
use ch06_images::reference::Reference;
use ch06_images::registry;
use ch06_images::store::{Store, render_images};
use ch06_images::unpack::Policy;
use ch06_images::{Error, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ch06-images", about = "Chapter 6: OCI images")]
struct Cli {
    /// The state directory holding the image store.
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
        /// os/arch[/variant] to pick from a multi-platform image.
        #[arg(long)]
        platform: Option<String>,
        /// A registry (host:port) that may be spoken to over plain HTTP.
        #[arg(long = "insecure-registry")]
        insecure_registries: Vec<String>,
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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 125 } else { 0 });
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ch06-images: {e}");
            ExitCode::from(e.code as u8)
        }
    }
}

fn execute(cli: Cli) -> Result<()> {
    let store = Store::open(&cli.root)?;
    match cli.command {
        Command::Pull {
            reference,
            platform,
            insecure_registries,
            quiet,
        } => {
            let reference = Reference::parse(&reference)?;
            let options = PullOptions {
                registry: registry::Options {
                    insecure_registries,
                    credentials: None,
                },
                platform: platform
                    .as_deref()
                    .map(Platform::parse)
                    .transpose()?
                    .unwrap_or_default(),
                policy: Policy::default(),
            };
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
            Ok(())
        }
        Command::Images => {
            print!("{}", render_images(&store.images()?));
            Ok(())
        }
        Command::Rmi { reference } => {
            let name = Reference::parse(&reference)?.to_string();
            let removed = store.remove(&name).map_err(|e| Error::engine(e.message))?;
            println!("Untagged: {}", removed.untagged);
            for layer in &removed.layers {
                println!("Deleted layer: {layer}");
            }
            for blob in &removed.blobs {
                println!("Deleted blob: {blob}");
            }
            Ok(())
        }
    }
}
