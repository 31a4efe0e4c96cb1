//! `ch03-cgroups`: run a command with resource limits (cgroups).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch03-cgroups",
    version,
    about = "Chapter 3 of berth: limit, pause and account a container's resources (cgroups)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print this host's cgroup layout (v2, v1 or hybrid) and its hierarchies.
    Info,
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Command::Info => info(),
    };
    if let Err(err) = result {
        eprintln!("ch03-cgroups: {err}");
        std::process::exit(err.code);
    }
}

/// `info`: the layout, then where each hierarchy is and where berth's cgroups go.
fn info() -> Result<(), ch03_cgroups::Error> {
    let layout = ch03_cgroups::Layout::detect()?;
    println!("cgroup.layout: {layout}");
    for h in layout.hierarchies() {
        let name = if h.controllers.is_empty() || layout.unified.as_ref() == Some(h) {
            "unified".to_string()
        } else {
            h.controllers.join(",")
        };
        println!(
            "cgroup.hierarchy.{name}: {}",
            h.dir(ch03_cgroups::cgroup::PARENT).display()
        );
    }
    Ok(())
}
