//! berth-runtime: an OCI runtime with runc's command line (see
//! `berth::runtime`). Parses the arguments, runs one verb, prints.

use std::path::PathBuf;
use std::process::ExitCode;

use berth::runtime::{
    self, Globals, create, delete, exec, features, kill, list, log, pause, ps, spec, start, state,
};
use ch01_chroot::events::{Event, Sink, set_sink};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth-runtime",
    about = "An OCI runtime with runc's command line",
    disable_version_flag = true
)]
struct Cli {
    /// Where containers' state is kept.
    #[arg(long, default_value = runtime::DEFAULT_ROOT)]
    root: PathBuf,
    /// Also write errors to this file.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The log's format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Use systemd for cgroups (not supported).
    #[arg(long)]
    systemd_cgroup: bool,
    /// More output (accepted; berth-runtime has nothing more to say yet).
    #[arg(long)]
    debug: bool,
    /// Print the version.
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Verb>,
}

#[derive(Subcommand)]
enum Verb {
    /// Write a default config.json in the bundle directory.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports (the runtime spec's features JSON).
    Features,
    /// Create a container that waits to be started.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Print a container's state as JSON.
    State { id: String },
    /// Send a signal (default TERM) to a container.
    Kill {
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Run another process in a running container.
    Exec {
        /// The process as runtime-spec JSON (else the command given).
        #[arg(short, long)]
        process: Option<PathBuf>,
        /// Return once it runs.
        #[arg(short, long)]
        detach: bool,
        /// Write its pid here.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Send its pty's master here (with process.terminal).
        #[arg(long)]
        console_socket: Option<PathBuf>,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Freeze a running container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List a container's processes (host pids).
    Ps {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
    },
    /// Remove a stopped container (a running one with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List the containers.
    #[command(alias = "ls")]
    List {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Create, start and wait for a container, then delete it.
    Run(CreateArgs),
}

#[derive(clap::Args)]
struct CreateArgs {
    /// The bundle directory (config.json and the root filesystem).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Send the pty's master here (with process.terminal).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for containerd; pivot_root is always used.
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for containerd; no session keyring is made.
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass descriptors 3 to 3+N-1 on to the container.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

impl CreateArgs {
    fn options(&self) -> create::CreateOptions {
        create::CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
        }
    }
}

/// Warnings in the log, or on stderr without one.
struct RuntimeSink {
    globals: Globals,
}

impl Sink for RuntimeSink {
    fn emit(&self, event: &Event) {
        // With a log (containerd's shim gives one), warnings go there
        // only: our stderr is the container's, and its output is not ours.
        match &self.globals.log {
            Some(path) => log::append(path, self.globals.log_format, "warning", &event.text),
            None => eprintln!("berth-runtime: {}", event.text),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match log::Format::parse(&cli.log_format) {
        Ok(format) => format,
        Err(e) => return fail(None, log::Format::Text, &e),
    };
    let globals = Globals {
        root: cli.root.clone(),
        log: cli.log.clone(),
        log_format: format,
    };
    set_sink(Box::new(RuntimeSink {
        globals: globals.clone(),
    }));
    let _ = cli.debug;
    match run(&cli, &globals) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => fail(globals.log.as_deref(), format, &e),
    }
}

/// The error on stderr, one line, and in the log; its exit code.
fn fail(log_file: Option<&std::path::Path>, format: log::Format, e: &berth::Error) -> ExitCode {
    eprintln!("berth-runtime: {}", e.message);
    if let Some(path) = log_file {
        log::append(path, format, "error", &e.message);
    }
    ExitCode::from(e.code.clamp(1, 255) as u8)
}

fn run(cli: &Cli, globals: &Globals) -> berth::Result<i32> {
    if cli.version {
        println!("berth-runtime version {}", env!("CARGO_PKG_VERSION"));
        println!("commit: none");
        println!("spec: {}", runtime::OCI_VERSION);
        return Ok(0);
    }
    if cli.systemd_cgroup {
        return Err(berth::Error::invalid(
            "--systemd-cgroup is not supported: berth-runtime manages cgroups itself; drop the flag (SystemdCgroup = false)",
        ));
    }
    let Some(command) = &cli.command else {
        return Err(berth::Error::invalid(
            "no command given: try berth-runtime --help",
        ));
    };
    match command {
        Verb::Spec { bundle } => spec::write_spec(bundle)?,
        Verb::Features => println!("{}", features::features()),
        Verb::Create(args) => create::create(globals, &args.options())?,
        Verb::Start { id } => start::start(globals, id)?,
        Verb::State { id } => println!("{}", state::state(globals, id)?),
        Verb::Kill { id, signal, all } => kill::kill(globals, id, signal, *all)?,
        Verb::Exec {
            process,
            detach,
            pid_file,
            console_socket,
            id,
            command,
        } => {
            let options = exec::ExecOptions {
                id: id.clone(),
                process: process.clone(),
                command: command.clone(),
                detach: *detach,
                pid_file: pid_file.clone(),
                console_socket: console_socket.clone(),
            };
            return exec::exec(globals, &options);
        }
        Verb::Pause { id } => pause::pause(globals, id)?,
        Verb::Resume { id } => pause::resume(globals, id)?,
        Verb::Ps { format, id } => {
            let pids = ps::pids(globals, id)?;
            match format.as_str() {
                "json" => println!("{}", serde_json::json!(pids)),
                "table" => {
                    println!("PID");
                    pids.iter().for_each(|p| println!("{p}"));
                }
                other => {
                    return Err(berth::Error::invalid(format!(
                        "unknown ps format {other:?}: use table or json"
                    )));
                }
            }
        }
        Verb::Delete { id, force } => delete::delete(globals, id, *force)?,
        Verb::List { format, quiet } => {
            let states = list::states(globals)?;
            match (format.as_str(), quiet) {
                (_, true) => states.iter().for_each(|s| println!("{}", s.id)),
                ("json", _) => println!(
                    "{}",
                    serde_json::to_string(&states)
                        .map_err(|e| berth::Error::engine(e.to_string()))?
                ),
                ("table", _) => print!("{}", list::table(&states)),
                (other, _) => {
                    return Err(berth::Error::invalid(format!(
                        "unknown list format {other:?}: use table or json"
                    )));
                }
            }
        }
        Verb::Run(args) => return runtime::run::run(globals, &args.options()),
    }
    Ok(0)
}
