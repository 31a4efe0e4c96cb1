//! Each command's wiring: arguments in, the engine's functions, output and
//! exit code out (Docker's: one line per container acted on, errors on
//! stderr, 125 when the engine refuses). Part of the binary: only it
//! prints; the engine library returns values.

use ch01_chroot::cli::report_each;

pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use berth::attach::{self, Options, parse_detach_keys};
use berth::cli::ContainerCommand;
use berth::context::Engine;
use berth::lookup::{all, find};
use berth::record::{self, Status};
use berth::{Error, Result};

/// Runs one container command; `stored` is `run`/`create`'s command line.
pub fn container(engine: &Engine, command: ContainerCommand, stored: Vec<String>) -> Result<i32> {
    match command {
        ContainerCommand::Run(args) => match berth::run::run(engine, *args, stored)? {
            berth::run::Ran::Detached(id) => {
                println!("{id}");
                Ok(0)
            }
            berth::run::Ran::Exited(code) => Ok(code),
        },
        ContainerCommand::Create(args) => {
            let created = berth::create::create(engine, *args, stored)?;
            println!("{}", created.record.id);
            Ok(0)
        }
        ContainerCommand::Start {
            attach,
            interactive,
            restartable,
            containers,
        } => start(engine, attach, interactive, restartable, containers),
        ContainerCommand::Stop { time, containers } => Ok(report_each(
            containers
                .iter()
                .map(|c| berth::stop::stop(engine, c, time)),
        )),
        ContainerCommand::Restart { time, containers } => {
            Ok(report_each(containers.iter().map(|c| {
                berth::stop::stop(engine, c, time)?;
                berth::start::start_detached(engine, c)
            })))
        }
        ContainerCommand::Kill { signal, containers } => Ok(report_each(
            containers
                .iter()
                .map(|c| berth::stop::kill_container(engine, c, &signal)),
        )),
        ContainerCommand::Rm {
            force,
            volumes,
            containers,
        } => Ok(report_each(
            containers
                .iter()
                .map(|c| berth::remove::rm(engine, c, force, volumes)),
        )),
        ContainerCommand::Ps(args) => {
            let (found, unreadable) = all(engine)?;
            for (id, e) in &unreadable {
                eprintln!(
                    "berth: container {}: {}",
                    ch04_overlay::id::short_id(id),
                    e.message
                );
            }
            print!("{}", berth::ps::ps(found, &args)?);
            Ok(0)
        }
        ContainerCommand::Logs(args) => berth::logs::logs(engine, &args),
        ContainerCommand::Inspect {
            format, containers, ..
        } => inspect(engine, format, containers),
        ContainerCommand::Wait { containers } => Ok(report_each(
            containers
                .iter()
                .map(|c| wait(engine, c).map(|code| code.to_string())),
        )),
        ContainerCommand::Attach {
            detach_keys,
            no_stdin,
            sig_proxy,
            container,
        } => {
            let found = find(engine, &container)?;
            if !matches!(found.record.state.status, Status::Running | Status::Paused) {
                return Err(Error::conflict(format!(
                    "cannot attach to container {container}: it is not running"
                )));
            }
            let stream = attach::connect(&engine.socket_of(&found.record.id))?;
            let options = Options {
                stdin: !no_stdin && found.record.process.open_stdin,
                tty: found.record.process.tty,
                detach_keys: parse_detach_keys(detach_keys.as_deref())?,
                sig_proxy,
                pid: found.record.live_pid(),
            };
            let ended = attach::relay(stream, &options)?;
            berth::run::exit_code(engine, &found, ended)
        }
        ContainerCommand::Exec(args) => berth::exec::exec(engine, args),
        ContainerCommand::Pause { containers } => Ok(report_each(
            containers
                .iter()
                .map(|c| berth::pause::pause(engine, c, true)),
        )),
        ContainerCommand::Unpause { containers } => Ok(report_each(
            containers
                .iter()
                .map(|c| berth::pause::pause(engine, c, false)),
        )),
        ContainerCommand::Rename {
            container,
            new_name,
        } => rename(engine, &container, &new_name).map(|()| 0),
        ContainerCommand::Port { container } => {
            let found = find(engine, &container)?;
            for line in berth::networks::port_lines(&found.record.host.ports) {
                println!("{line}");
            }
            Ok(0)
        }
        ContainerCommand::Prune { .. } => {
            let (found, _) = all(engine)?;
            let mut reclaimed = Vec::new();
            for f in found.iter().filter(|f| {
                matches!(
                    f.record.state.status,
                    Status::Exited | Status::Created | Status::Dead
                )
            }) {
                berth::remove::remove_stopped(engine, &f.container)?;
                reclaimed.push(f.record.id.clone());
            }
            println!("Deleted Containers:");
            for id in reclaimed {
                println!("{id}");
            }
            Ok(0)
        }
        ContainerCommand::Top {
            container,
            ps_options,
        } => {
            print!("{}", berth::top::top(engine, &container, &ps_options)?);
            Ok(0)
        }
        ContainerCommand::Stats(args) => berth::stats::stats(engine, &args),
        ContainerCommand::Diff { container } => {
            print!("{}", berth::diff::diff(engine, &container)?);
            Ok(0)
        }
        ContainerCommand::Export { output, container } => {
            berth::export::export(engine, &container, output.as_deref()).map(|()| 0)
        }
        ContainerCommand::Cp {
            follow_link,
            archive,
            source,
            destination,
        } => berth::cp::cp(engine, &source, &destination, follow_link, archive).map(|()| 0),
        ContainerCommand::Update(args) => Ok(report_each(
            args.containers
                .iter()
                .map(|c| berth::update::update(engine, &args, c)),
        )),
        ContainerCommand::Commit {
            author,
            message,
            pause,
            container,
            repository,
        } => {
            let name = repository.ok_or_else(|| {
                Error::invalid(
                    "commit needs a name for the image: berth commit CONTAINER REPOSITORY[:TAG]",
                )
            })?;
            let id = berth::commit::commit(
                engine,
                &berth::commit::Request {
                    container: &container,
                    name: &name,
                    message: message.as_deref(),
                    author: author.as_deref(),
                    pause,
                },
            )?;
            println!("{id}");
            Ok(0)
        }
    }
}

fn start(
    engine: &Engine,
    attach: bool,
    interactive: bool,
    restartable: bool,
    containers: Vec<String>,
) -> Result<i32> {
    // ANCHOR: restartable
    if restartable {
        let (found, _) = all(engine)?;
        let names: Vec<String> = found
            .iter()
            .filter(|f| !f.record.is_active())
            .filter(|f| {
                f.record
                    .host
                    .restart
                    .restarts_at_boot(f.record.state.stopped_by_user)
            })
            .map(|f| f.record.name.clone())
            .collect();
        return Ok(report_each(
            names
                .iter()
                .map(|c| berth::start::start_detached(engine, c)),
        ));
    }
    // ANCHOR_END: restartable
    if containers.is_empty() {
        return Err(Error::invalid(
            "start needs at least one container (or --restartable)",
        ));
    }
    if !(attach || interactive) {
        return Ok(report_each(
            containers
                .iter()
                .map(|c| berth::start::start_detached(engine, c)),
        ));
    }
    let [key] = containers.as_slice() else {
        return Err(Error::invalid(
            "you cannot start and attach multiple containers at once",
        ));
    };
    let found = find(engine, key)?;
    record::update(found.dir(), |r| r.state.stopped_by_user = false)?;
    let stream =
        berth::start::start(engine, &found, true)?.ok_or_else(|| Error::engine("not attached"))?;
    let running = berth::record::Record::read(found.dir())?;
    let options = Options {
        stdin: interactive && found.record.process.open_stdin,
        tty: found.record.process.tty,
        detach_keys: parse_detach_keys(None)?,
        sig_proxy: true,
        pid: running.and_then(|r| r.live_pid()),
    };
    let ended = attach::relay(stream, &options)?;
    berth::run::exit_code(engine, &found, ended)
}

/// `inspect`: containers first, then images, as Docker looks them up.
fn inspect(engine: &Engine, format: Option<String>, keys: Vec<String>) -> Result<i32> {
    let mut values = Vec::new();
    let mut failed = 0;
    let mut catalog = None;
    for key in &keys {
        let value = match find(engine, key) {
            Ok(found) => Ok(berth::inspect::inspect(engine, &found)),
            Err(e) if e.is(ch01_chroot::ErrorKind::NotFound) => {
                if catalog.is_none() {
                    catalog = Some(berth::images::catalog::Catalog::open(engine)?);
                }
                let catalog = catalog.as_ref().expect("opened above");
                berth::images::inspect::inspect(catalog, key)
                    .map_err(|_| Error::not_found(format!("No such object: {key}")))
            }
            Err(e) => Err(e),
        };
        match value {
            Ok(v) => values.push(v),
            Err(e) => {
                eprintln!("berth: {e}");
                failed = 1;
            }
        }
    }
    print_values(format.as_deref(), &values)?;
    Ok(failed)
}

/// `inspect`'s output: one JSON array, or the template once per value.
pub fn print_values(format: Option<&str>, values: &[serde_json::Value]) -> Result<()> {
    match format {
        Some(f) if f != "json" => {
            for v in values {
                println!("{}", berth::format::render(f, v)?);
            }
        }
        _ => println!(
            "{}",
            serde_json::to_string_pretty(values).unwrap_or_default()
        ),
    }
    Ok(())
}

/// Blocks until `key` is not running; its exit code.
/// Blocks until `key` has run and stopped (Docker's wait blocks on a
/// created container until it runs and exits; so do we).
fn wait(engine: &Engine, key: &str) -> Result<i32> {
    loop {
        let now = find(engine, key)?;
        if !now.record.is_active() && now.record.state.status != Status::Created {
            return Ok(now.record.state.exit_code);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn rename(engine: &Engine, key: &str, new_name: &str) -> Result<()> {
    let found = find(engine, key)?;
    engine.containers()?.rename(&found.container, new_name)?;
    record::update(found.dir(), |r| r.name = new_name.to_string())?;
    Ok(())
}
