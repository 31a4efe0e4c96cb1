//! `berth`: the command line. Parses, runs one command, exits with
//! Docker's codes (125 when the engine refuses, 126/127 when the command
//! cannot be run or found, otherwise the container's own).

use std::sync::atomic::Ordering;

mod commands;

use berth::cli::{Cli, Command};
use berth::context::Engine;
use berth::{Error, Result};
use ch01_chroot::cli::exit_with;
use ch01_chroot::error::ENGINE_ERROR;
use ch01_chroot::events::{Event, Sink, set_sink};
use clap::{CommandFactory, Parser};

/// Events on stderr (a monitor's stderr is its `monitor.log`); chapter
/// 3's out-of-memory report also sets the container's OOMKilled.
struct EngineSink;

impl Sink for EngineSink {
    fn emit(&self, event: &Event) {
        if event.text.contains("out of memory") {
            berth::monitor::OOM.store(true, Ordering::Relaxed);
        }
        eprintln!("{}", event.text);
    }
}

fn main() {
    set_sink(Box::new(EngineSink));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            std::process::exit(0);
        }
        Err(e) => {
            // One line, as every other error (clap adds a usage hint).
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("berth: {}", first.trim_start_matches("error: "));
            std::process::exit(ENGINE_ERROR);
        }
    };
    exit_with(execute(cli));
}

fn execute(cli: Cli) -> Result<i32> {
    // ANCHOR: monitor_entry
    if let Command::Monitor { id, attach_first } = &cli.command {
        // The monitor clones containers: it runs from a sealed copy of
        // itself (chapter 7), and starts its successors from the real file.
        let exe = std::env::var_os("BERTH_EXE").map(std::path::PathBuf::from);
        berth::monitor::sealed::lock(&cli.run_dir);
        let holder = berth::monitor::sealed::holder(&cli.run_dir);
        ch07_security::hygiene::run_from_shared_copy(holder)?;
        berth::monitor::sealed::offer(&cli.run_dir);
        berth::monitor::sealed::unlock();
        let mut engine = Engine::new(cli.root.clone(), cli.run_dir.clone())?;
        if let Some(exe) = exe {
            engine.exe = exe;
        }
        let code = berth::monitor::main(&engine, id, *attach_first);
        berth::monitor::sealed::withdraw(&cli.run_dir);
        return Ok(code);
    }
    // ANCHOR_END: monitor_entry
    if let Command::Resolver { network } = &cli.command {
        ch05_network::serve::main(&ch05_network::run::host_for(&cli.root)?, network)?;
        return Ok(0);
    }
    if let Command::Container(berth::cli::ContainerCommand::Exec(_))
    | Command::Containers(berth::cli::ContainerCommand::Exec(_)) = &cli.command
    {
        // exec enters containers: from a sealed copy too (CVE-2019-5736
        // went through `runc exec`).
        ch07_security::hygiene::run_from_sealed_copy()?;
    }
    if !streams(&cli.command) {
        // Output into a closed pipe (`berth ps | head -1`) ends us quietly,
        // as any command-line tool, instead of a panic in `println!`.
        // SAFETY: restoring a signal's default disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let engine = Engine::new(cli.root, cli.run_dir)?;
    match cli.command {
        Command::Container(c) | Command::Containers(c) => {
            commands::container(&engine, c, stored_args())
        }
        Command::Pull {
            quiet,
            registry,
            reference,
        } => commands::images::pull(
            &engine,
            berth::images::pull::PullArgs {
                quiet,
                registry,
                reference,
            },
        ),
        Command::Network(command) => commands::networks::execute(&engine, command),
        Command::Info => {
            print!("{}", berth::info::info(&engine)?);
            Ok(0)
        }
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "berth", &mut std::io::stdout());
            Ok(0)
        }
        Command::Monitor { .. } | Command::Resolver { .. } => Err(Error::engine("unreachable")),
        Command::ImageShortcut(c) => commands::images::execute(&engine, c.into()),
        Command::Image(c) => commands::images::execute(&engine, c),
        Command::Version { format } => {
            print!("{}", berth::version::version(format.as_deref())?);
            Ok(0)
        }
        Command::System(command) => commands::system::system(&engine, command),
        Command::Volume(command) => commands::volumes::execute(&engine, command),
    }
}

/// Commands that relay a container's streams over sockets: a peer that
/// goes away is an error they report, not a signal that kills them.
fn streams(command: &Command) -> bool {
    use berth::cli::ContainerCommand as C;
    match command {
        Command::Container(c) | Command::Containers(c) => {
            matches!(
                c,
                C::Run(_) | C::Start { .. } | C::Attach { .. } | C::Exec(_)
            )
        }
        _ => false,
    }
}

/// The words after `run` or `create` on our command line: the container's
/// options, image and command, as the record keeps them.
fn stored_args() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--root" | "--run-dir" => i += 2,
            "run" | "create" => return args[i + 1..].to_vec(),
            _ => i += 1,
        }
    }
    Vec::new()
}
