//! The image commands' output: the engine's values printed as Docker
//! prints them (part of the binary: only it prints).

use std::io::{BufRead, Write};

use berth::Result;
use berth::context::Engine;
use berth::images::catalog::Catalog;
use berth::images::inspect::inspect;
use berth::images::prune::prune;
use berth::images::pull::PullArgs;
use berth::images::{ImageCommand, InspectArgs, PruneArgs, history, list, remove, tag};
use ch06_images::progress::Progress;
use ch06_images::reference::Reference;
use ch06_images::store::human_size;

/// Runs one image command: its output on stdout, its exit code.
pub fn execute(engine: &Engine, command: ImageCommand) -> Result<i32> {
    match command {
        ImageCommand::Ls(args) => {
            print!("{}", list::list(engine, &args)?);
            Ok(0)
        }
        ImageCommand::Rm(args) => {
            Ok(ch01_chroot::cli::report_each(args.images.iter().map(
                |key| remove::rmi(engine, key, args.force).map(|lines| lines.join("\n")),
            )))
        }
        ImageCommand::Tag(args) => tag::tag(engine, &args.source, &args.target).map(|()| 0),
        ImageCommand::Inspect(args) => print(engine, &args),
        ImageCommand::History(args) => {
            print!("{}", history::history(engine, &args)?);
            Ok(0)
        }
        ImageCommand::Prune(args) => run(engine, &args),
        ImageCommand::Pull(args) => pull(engine, args),
    }
}

/// Prints every image's JSON (one array) or template; 1 if any was
/// missing (after printing the others), as Docker.
pub fn print(engine: &Engine, args: &InspectArgs) -> Result<i32> {
    let catalog = Catalog::open(engine)?;
    let mut values = Vec::new();
    let mut code = 0;
    for key in &args.images {
        match inspect(&catalog, key) {
            Ok(v) => values.push(v),
            Err(e) => {
                eprintln!("berth: {e}");
                code = 1;
            }
        }
    }
    super::print_values(args.format.as_deref(), &values)?;
    Ok(code)
}

/// `image prune [-a] [-f]`: asks first unless `-f`, then prints the report.
pub fn run(engine: &Engine, args: &PruneArgs) -> Result<i32> {
    if !args.force && !confirm(args.all) {
        return Ok(0);
    }
    let pruned = prune(engine, args.all)?;
    if !pruned.lines.is_empty() {
        println!("Deleted Images:");
        for line in &pruned.lines {
            println!("{line}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(pruned.reclaimed));
    Ok(0)
}

/// Docker's question; only `y` or `yes` goes on.
fn confirm(all: bool) -> bool {
    let what = if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
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
