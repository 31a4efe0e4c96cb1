//! The volume commands' output (part of the binary: only it prints).

use berth::context::Engine;
use berth::volumes::remove::remove_one;
use berth::volumes::store::Volumes;
use berth::volumes::{VolumeCommand, create, list, prune};
use berth::{Error, Result};

pub fn execute(engine: &Engine, command: VolumeCommand) -> Result<i32> {
    match command {
        VolumeCommand::Create(args) => {
            println!("{}", create::create(engine, &args)?);
            Ok(0)
        }
        VolumeCommand::Ls(args) => {
            print!("{}", list::list(engine, &args)?);
            Ok(0)
        }
        VolumeCommand::Inspect { format, volumes } => inspect(engine, format.as_deref(), &volumes),
        VolumeCommand::Rm { volumes, .. } => remove(engine, &volumes),
        VolumeCommand::Prune { all, force } => {
            print!("{}", prune::prune(engine, all, force)?);
            Ok(0)
        }
    }
}

/// Prints what it finds; a missing volume is reported and makes the
/// exit code 1, as Docker does.
pub fn inspect(engine: &Engine, format: Option<&str>, names: &[String]) -> Result<i32> {
    let store = Volumes::open(engine)?;
    let mut found = Vec::new();
    let mut code = 0;
    for name in names {
        match store.get(name) {
            Ok(v) => {
                found.push(serde_json::to_value(&v).map_err(|e| Error::engine(e.to_string()))?)
            }
            Err(e) => {
                eprintln!("Error: {}", e.message);
                code = 1;
            }
        }
    }
    super::print_values(format, &found)?;
    Ok(code)
}

/// Removes each volume; reports each failure and exits 1 if any.
pub fn remove(engine: &Engine, names: &[String]) -> Result<i32> {
    let mut code = 0;
    for name in names {
        match remove_one(engine, name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error: {}", e.message);
                code = 1;
            }
        }
    }
    Ok(code)
}
