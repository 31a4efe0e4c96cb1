//! The network commands' output (part of the binary: only it prints).

use berth::Result;
use berth::context::Engine;
use berth::networks::{NetworkCommand, connect, create, find, host, inspect, list, remove};

pub fn execute(engine: &Engine, command: NetworkCommand) -> Result<i32> {
    // What killed containers left on any network goes first.
    ch05_network::sweep::reclaim_root(&host(engine)?)?;
    match command {
        NetworkCommand::Create(args) => {
            println!("{}", create::create(engine, &args)?);
            Ok(0)
        }
        NetworkCommand::Ls(args) => {
            print!("{}", list::list(engine, &args)?);
            Ok(0)
        }
        NetworkCommand::Inspect { format, networks } => {
            inspect_each(engine, format.as_deref(), &networks)
        }
        NetworkCommand::Rm { networks } => {
            let mut code = 0;
            for key in &networks {
                match remove::remove_one(engine, key) {
                    Ok(_) => println!("{key}"),
                    Err(e) => {
                        eprintln!("Error: {}", e.message);
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        NetworkCommand::Prune { .. } => {
            let removed = remove::prune(engine)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for name in removed {
                    println!("{name}");
                }
            }
            Ok(0)
        }
        NetworkCommand::Connect {
            ip,
            aliases,
            network,
            container,
        } => connect::connect(engine, &network, &container, ip, aliases).map(|()| 0),
        NetworkCommand::Disconnect {
            force,
            network,
            container,
        } => connect::disconnect(engine, &network, &container, force).map(|()| 0),
    }
}

/// Prints what it finds; a missing network is reported and makes the
/// exit code 1, as Docker does.
fn inspect_each(engine: &Engine, format: Option<&str>, keys: &[String]) -> Result<i32> {
    let host = host(engine)?;
    let mut found = Vec::new();
    let mut code = 0;
    for key in keys {
        match find(&host, key).and_then(|n| inspect::inspect(&host, &n)) {
            Ok(value) => found.push(value),
            Err(e) => {
                eprintln!("Error: {}", e.message);
                code = 1;
            }
        }
    }
    super::print_values(format, &found)?;
    Ok(code)
}
