//! The system commands' output, and `prune`'s question (part of the
//! binary: only it prints and reads the terminal).

use std::io::{BufRead, Write};

use berth::Result;
use berth::context::Engine;
use berth::system::{SystemCommand, df, prune, unit};

pub fn system(engine: &Engine, command: SystemCommand) -> Result<i32> {
    match command {
        SystemCommand::Df => print!("{}", df(engine)?),
        SystemCommand::Prune { all, force } => {
            if !force && !confirmed(all)? {
                return Ok(0);
            }
            print!("{}", prune(engine, all)?);
        }
        SystemCommand::Unit => print!("{}", unit(engine)),
    }
    Ok(0)
}

fn confirmed(all: bool) -> Result<bool> {
    let images = if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    print!(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - {images}\n\nAre you sure you want to continue? [y/N] "
    );
    let _ = std::io::stdout().flush();
    // No answer (stdin at its end): no.
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
