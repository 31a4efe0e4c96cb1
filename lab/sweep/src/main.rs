//! `lab-sweep`: chapter 5's sweeper, run by `cargo lab clean`, `test`,
//! `demo` and `bench` as a program rather than linked into the lab, so
//! `cargo lab` (and with it the workshop) still builds while a learner's
//! chapter does not. Prints one line per thing found or removed.

use std::path::PathBuf;

use ch05_network::network::{Host, TAG_VAR};
use ch05_network::sweep;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lab-sweep", about = "chapter 5's sweeper, for the lab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chapter 5's names the lab needs, as JSON.
    Constants,
    /// Remove every network of a state root (of its tagged bridge and chains with --tag).
    RemoveNetworks {
        root: PathBuf,
        #[arg(long)]
        tag: Option<String>,
    },
    /// What tests and killed runs left: namespaces, bridges, chains (removed).
    CleanHost,
    /// The same, found but not removed: what the suite must not leave behind.
    Leftovers,
}

/// The state roots whose networks are a real installation's (kept):
/// berth's, and the chapter binaries' defaults from chapter 5 on.
fn network_roots() -> Vec<PathBuf> {
    [
        ch05_network::DEFAULT_STATE_ROOT,
        ch05_network::CHAPTER_ROOT,
        "/var/lib/berth/ch06",
        "/var/lib/berth/ch07",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

fn run(command: Command) -> Result<Vec<String>, ch05_network::Error> {
    match command {
        Command::Constants => Ok(vec![
            serde_json::json!({
                "tag_var": TAG_VAR,
                "chapter_root": ch05_network::CHAPTER_ROOT,
                "network_roots": network_roots(),
            })
            .to_string(),
        ]),
        Command::RemoveNetworks { root, tag } => {
            let host = match tag {
                Some(tag) => Host::new(&root).tagged(&tag)?,
                None => Host::new(&root),
            };
            if !host.state.dir().exists() {
                return Ok(Vec::new());
            }
            sweep::remove_networks(&host)
        }
        Command::CleanHost => sweep::clean_host(&network_roots()),
        Command::Leftovers => sweep::leftovers(&network_roots()),
    }
}

fn main() {
    ch01_chroot::events::set_sink(Box::new(ch01_chroot::cli::StderrSink));
    match run(Cli::parse().command) {
        Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
        Err(e) => {
            eprintln!("lab-sweep: {e}");
            std::process::exit(1);
        }
    }
}
