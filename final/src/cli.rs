//! berth's command line: Docker's commands, flags and exit codes.
//!
//! Container commands exist twice, as Docker has them: `berth ps` and
//! `berth container ls` are the same command.

use std::path::PathBuf;

use ch06_images::cli::ImageRunArgs;
use ch07_security::options::SecurityArgs;
use clap::{Args, Parser, Subcommand};

use crate::context::{DEFAULT_ROOT, DEFAULT_RUN_DIR};
use crate::restart::RestartPolicy;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A daemonless container engine with Docker's commands",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The state directory: images, layers, containers.
    #[arg(long, global = true, default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,
    /// Runtime state (monitor sockets), gone at reboot.
    #[arg(long, global = true, default_value = DEFAULT_RUN_DIR, value_name = "DIR", hide = true)]
    pub run_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    #[command(flatten)]
    Container(ContainerCommand),
    /// Manage containers.
    #[command(name = "container", subcommand)]
    Containers(ContainerCommand),
    /// Pull an image from a registry (Docker Hub without a registry name).
    Pull {
        /// Suppress the progress.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        registry: ch06_images::cli::RegistryArgs,
        /// NAME[:TAG|@DIGEST], e.g. busybox or 127.0.0.1:5000/busybox:1.36.
        reference: String,
    },
    /// Manage networks: create, ls, inspect, rm, prune, connect, disconnect.
    #[command(subcommand)]
    Network(crate::networks::NetworkCommand),
    /// Print the engine's and the host's facts.
    Info,
    /// Print shell completions: bash, zsh or fish.
    Completion { shell: clap_complete::Shell },
    /// The resolver of a user-defined network (started by a container's
    /// attach, not by hand).
    #[command(name = "__resolver", hide = true)]
    Resolver { network: String },
    /// The monitor of one container (started by `start`, not by hand).
    #[command(name = "__monitor", hide = true)]
    Monitor {
        id: String,
        /// Wait for one attach client before starting the container.
        #[arg(long)]
        attach_first: bool,
    },
    /// `images`, `rmi`, `tag`, `history`: the short forms of `image ...`.
    #[command(flatten)]
    ImageShortcut(crate::images::ImageShortcut),
    /// Manage images: ls, rm, tag, inspect, history, prune, pull.
    #[command(name = "image", subcommand)]
    Image(crate::images::ImageCommand),
    /// Print berth's version and how it was built.
    Version {
        /// A Go template over the JSON, e.g. '{{.Client.Version}}'.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Manage berth: disk usage, prune, the boot unit.
    #[command(subcommand)]
    System(crate::system::SystemCommand),
    /// Manage volumes: create, ls, inspect, rm, prune.
    #[command(subcommand)]
    Volume(crate::volumes::VolumeCommand),
}

#[derive(Subcommand)]
pub enum ContainerCommand {
    /// Create and start a container from an image.
    Run(Box<RunArgs>),
    /// Create a container without starting it.
    Create(Box<CreateArgs>),
    /// Start stopped or created containers.
    Start {
        /// Attach to the container's output (one container).
        #[arg(short, long)]
        attach: bool,
        /// Attach the container's stdin.
        #[arg(short, long)]
        interactive: bool,
        /// Start every container whose restart policy says so at boot.
        #[arg(long)]
        restartable: bool,
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Stop running containers: the stop signal, then SIGKILL after the timeout.
    Stop {
        /// Seconds to wait before killing (default: the container's, 10).
        #[arg(short = 't', long = "time", alias = "timeout")]
        time: Option<u32>,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Stop and start containers again.
    Restart {
        #[arg(short = 't', long = "time", alias = "timeout")]
        time: Option<u32>,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Send a signal to running containers (default SIGKILL).
    Kill {
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Remove containers.
    Rm {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        /// Remove the container's anonymous volumes too.
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// List containers.
    #[command(alias = "ls", alias = "list")]
    Ps(Box<PsArgs>),
    /// Print a container's logs.
    Logs(LogsArgs),
    /// Print low-level information on containers, as JSON.
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        /// Show sizes (accepted for Docker's sake).
        #[arg(short, long)]
        size: bool,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Block until containers stop, then print their exit codes.
    Wait {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Attach the terminal to a running container's stdio.
    Attach {
        #[arg(long, value_name = "KEYS")]
        detach_keys: Option<String>,
        /// Do not attach stdin.
        #[arg(long)]
        no_stdin: bool,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        sig_proxy: bool,
        container: String,
    },
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Pause every process of containers (the freezer).
    Pause {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Resume paused containers.
    Unpause {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// List a container's published ports.
    Port { container: String },
    /// Remove every stopped container.
    Prune {
        #[arg(short, long)]
        force: bool,
    },
    /// Display the processes of a running container (`ps -ef`'s columns).
    Top {
        container: String,
        /// ps options (e.g. -o pid,comm; default: ps -ef's columns).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_options: Vec<String>,
    },
    /// Display containers' resource usage (every running one by default).
    Stats(crate::stats::StatsArgs),
    /// List what a container changed in its filesystem (A added, C changed, D deleted).
    Diff { container: String },
    /// Export a container's filesystem as a tar archive (to stdout by default).
    Export {
        /// Write to a file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        container: String,
    },
    /// Copy files between a container and the host: CONTAINER:SRC DEST, SRC CONTAINER:DEST (- is a tar stream).
    Cp {
        /// Follow a symbolic link given as SRC.
        #[arg(short = 'L', long)]
        follow_link: bool,
        /// Archive mode (keep owners: berth always does as root).
        #[arg(short, long)]
        archive: bool,
        #[arg(value_name = "SRC")]
        source: String,
        #[arg(value_name = "DEST")]
        destination: String,
    },
    /// Change the resource limits of containers (at once if they run, and at every start).
    Update(crate::update::UpdateArgs),
    /// Create a new image from a container's changes.
    Commit {
        /// Author (e.g. "Jane <jane@example.com>").
        #[arg(short, long)]
        author: Option<String>,
        /// Commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// Freeze the container during the commit.
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
        pause: bool,
        container: String,
        /// The new image's name (berth keeps images by name).
        #[arg(value_name = "REPOSITORY[:TAG]")]
        repository: Option<String>,
    },
}

/// `create`'s options: the engine's, then every chapter's. `-h` is
/// `--hostname`, as Docker has it; help is `--help` only.
#[derive(Args)]
#[command(disable_help_flag = true, mut_arg("hostname", |a| a.short('h')))]
pub struct CreateArgs {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Set a label, KEY=VALUE (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Read environment variables from a file of KEY=VALUE lines.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Write the container's id to this file.
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// The signal `stop` sends first.
    #[arg(long, default_value = "SIGTERM", value_name = "SIGNAL")]
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub stop_timeout: u32,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, default_value = "no", value_parser = parse_restart)]
    pub restart: RestartPolicy,
    /// Log driver options: max-size=10m, max-file=3.
    #[arg(long = "log-opt", value_name = "OPT=VALUE")]
    pub log_opts: Vec<String>,
    /// Mount a volume: /dst (anonymous), NAME:/dst[:ro] or /host/path:/dst[:ro].
    #[arg(short = 'v', long = "volume", value_name = "VOLUME")]
    pub volumes: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=...,target=...[,readonly].
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs: /dst[:size=64m,mode=1777].
    #[arg(long = "tmpfs", value_name = "DST[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Mount every volume of another container (:ro read-only).
    #[arg(long = "volumes-from", value_name = "CONTAINER[:ro]")]
    pub volumes_from: Vec<String>,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub image: ImageRunArgs,
}

/// `run`'s options: `create`'s, and how to attach.
#[derive(Args)]
pub struct RunArgs {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// The keys that detach from the container (default ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Pass the signals the command line receives on to the container.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args)]
pub struct PsArgs {
    /// Show every container (default: running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// The last N created containers.
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// The last created container.
    #[arg(short, long)]
    pub latest: bool,
    /// Show sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Do not truncate ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// status=, name=, id=, label=, ancestor=, exited= (repeatable).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// table, json, or a Go template such as '{{.ID}}\t{{.Names}}'.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args)]
pub struct ExecArgs {
    /// Run in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable, KEY=VALUE (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The user (name or id, optionally :group) instead of the container's.
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// The working directory inside the container.
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct LogsArgs {
    /// Follow the log as it grows.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end ("all" for every line).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Prefix each line with its time.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Only lines since this time (RFC 3339, Unix seconds, or 10m ago).
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details (accepted for Docker's sake).
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

pub fn parse_restart(text: &str) -> Result<RestartPolicy, String> {
    text.parse().map_err(|e: crate::Error| e.message)
}
