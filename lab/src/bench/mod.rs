//! `cargo lab bench`: how long a container takes to start and stop, by
//! engine and network mode, side by side in one interleaved run, and what
//! an idle container costs in memory. Measurement only: nothing here is
//! asserted by a test (timings depend on the machine).
//!
//! Each container runs `/bin/echo x` with its output on a pipe, and each
//! run is timed three ways without instrumenting any engine: **start**,
//! from the spawn of the engine's command to the first byte of the
//! container's output (everything up to the container's process running);
//! **teardown**, from that byte to the engine's exit (the container ends
//! at once, so this is the engine's cleanup); and the total. Under the
//! table, each network mode's median start over the same engine's
//! `--network none`: what the network adds to a start.
//!
//! Each round runs every variant once per repetition, in an order shuffled
//! anew for each repetition, so neither a slow moment of the machine nor
//! what the previous run left the kernel to finish (a network namespace
//! being destroyed, a grace period) favours one variant; the medians are
//! printed. The variants: `ch05-network run --rm` on the fixture root,
//! `ch06-images run --rm`, `ch07-security run --rm` (the path the engine
//! runs) and `berth run --rm` of the fixture image (from a local registry),
//! each with `--network none`, the default bridge and
//! `-p PORT:80`; `berth run -d` (the time until it returns; the container
//! is removed outside the timed part); `runc run` of a bundle made from the
//! fixture root, when runc is installed. Docker joins in when `dockerd` is
//! installed: the bench starts a dockerd of its own ([`docker`]) with the
//! same image from the same registry, and takes everything it made away
//! again. podman joins in when installed and answering (`podman info`);
//! nothing is installed for either. Then N parallel bridge starts of
//! chapter 5, wall time; the memory of berth's monitor for one idle
//! container (and conmon's, when podman runs); and the host memory
//! `--idle N` idle containers take.
//!
//! The networks live on a bridge and chains of the bench's own
//! (`BERTH_NETWORK_TAG`), removed at the end with the state roots.

mod berth;
mod docker;
mod memory;
mod runc;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{fixture, interrupt, paths, registry};
use berth::Berth;
use memory::{Usage, mib};

/// `cargo lab bench` options.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Rounds (each runs every variant `--runs` times, interleaved).
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
    /// Runs of each variant per round.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Containers started at once for the parallel measurement (0: skip).
    #[arg(long, default_value_t = 50)]
    pub parallel: usize,
    /// Rounds of the parallel measurement.
    #[arg(long, default_value_t = 3)]
    pub parallel_rounds: usize,
    /// Idle berth containers to start for the host memory they take (0: skip).
    #[arg(long, default_value_t = 200)]
    pub idle: usize,
    /// Where ch05-network, ch06-images and berth are (default: a release
    /// build of this workspace). Repeat it to compare builds in the same
    /// interleaved run.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Vec<PathBuf>,
}

/// What every container runs: its first output byte marks its start.
const COMMAND: [&str; 2] = ["/bin/echo", "x"];

/// Untimed work after a timed run, given what it printed.
type After = Box<dyn FnMut(&Output) -> Result<()>>;

/// One run's times: start (until the container's first output byte),
/// teardown (from there to the engine's exit) and the whole.
#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    start: Option<Duration>,
    total: Duration,
}

struct Variant {
    name: String,
    command: Command,
    /// True when the container's output is the command's: the first byte
    /// splits start from teardown.
    split: bool,
    /// Removing what the run left (a detached container), untimed.
    after: Option<After>,
    times: Vec<Timing>,
}

impl Variant {
    /// A run of `command`, whose stdout is the container's.
    fn new(name: String, mut command: Command) -> Variant {
        command.stdout(Stdio::piped());
        Variant {
            name,
            command,
            split: true,
            after: None,
            times: vec![],
        }
    }

    /// One run: its times; then the untimed work after it.
    fn time(&mut self) -> Result<Timing> {
        interrupt::check()?;
        let begin = Instant::now();
        let mut child = self.command.spawn()?;
        let mut stdout = vec![];
        let mut start = None;
        if let Some(mut pipe) = child.stdout.take() {
            if self.split {
                let mut first = [0u8; 1];
                if pipe.read(&mut first)? == 1 {
                    start = Some(begin.elapsed());
                    stdout.push(first[0]);
                }
            }
            pipe.read_to_end(&mut stdout)?;
        }
        let mut out = child.wait_with_output()?;
        let total = begin.elapsed();
        out.stdout = stdout;
        if !out.status.success() {
            bail!(
                "{:?} failed ({}): {}",
                self.command,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if self.split && out.stdout != b"x\n" {
            bail!(
                "{:?} printed {:?}, not the container's x",
                self.command,
                String::from_utf8_lossy(&out.stdout)
            );
        }
        if let Some(after) = &mut self.after {
            after(&out)?;
        }
        Ok(Timing { start, total })
    }
}

/// Runs the bench and prints its table.
pub fn run(args: &BenchArgs) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("cargo lab bench starts containers: run it as root");
    }
    let bin_dirs = if args.bin_dir.is_empty() {
        vec![build_release()?]
    } else {
        args.bin_dir.clone()
    };
    let rootfs = fixture::ensure()?;
    let tag_var = crate::sweep::tag_var()?;
    interrupt::catch()?;
    let work = tempfile::Builder::new().prefix("berth-bench-").tempdir()?;
    let registry = registry::Registry::start()?;
    let image = registry::seed_layers(&work.path().join("layout"), &registry)?;
    let port = registry::free_port()?.to_string();
    let publish = format!("{port}:80");
    let modes: [(&str, Vec<&str>); 3] = [
        ("none", vec!["--network", "none"]),
        ("bridge", vec![]),
        ("-p", vec!["-p", &publish]),
    ];
    // A state root, bridge and chains per engine and build, as separate
    // installations would have.
    let id = std::process::id() % 100_000;
    let mut setups = vec![];
    let mut berths = vec![];
    let mut variants = vec![];
    for (k, dir) in bin_dirs.iter().enumerate() {
        let label = if bin_dirs.len() > 1 {
            format!(" [{}]", dir.display())
        } else {
            String::new()
        };
        let (ch05, ch06, ch07) = (
            dir.join("ch05-network"),
            dir.join("ch06-images"),
            dir.join("ch07-security"),
        );
        let (tag5, tag6, tag7) = (
            format!("b{id}{k}x"),
            format!("b{id}{k}y"),
            format!("b{id}{k}w"),
        );
        let (root5, root6, root7) = (
            work.path().join(format!("{k}/ch05")),
            work.path().join(format!("{k}/ch06")),
            work.path().join(format!("{k}/ch07")),
        );
        // (The output is captured: chapter 7's pull has no -q.)
        for (bin, root, tag) in [(&ch06, &root6, &tag6), (&ch07, &root7, &tag7)] {
            check(
                Command::new(bin)
                    .arg("--root")
                    .arg(root)
                    .args(["pull", &image])
                    .env(tag_var, tag),
            )?;
        }
        // Chapter 7 is the path the engine runs (chapters 2 to 6 under
        // least privilege): berth's own cost is its difference to it.
        for (engine, bin, root, what, tag) in [
            (
                "ch05-network",
                &ch05,
                &root5,
                rootfs.display().to_string(),
                &tag5,
            ),
            ("ch06-images", &ch06, &root6, image.clone(), &tag6),
            ("ch07-security", &ch07, &root7, image.clone(), &tag7),
        ] {
            for (mode, flags) in &modes {
                let mut command = Command::new(bin);
                command
                    .arg("--root")
                    .arg(root)
                    .args(["run", "--rm"])
                    .args(flags)
                    .arg(what.as_str())
                    .args(COMMAND)
                    .env(tag_var, tag)
                    .stdin(Stdio::null())
                    .stderr(Stdio::piped());
                variants.push(Variant::new(
                    format!("{engine} run --rm {mode}{label}"),
                    command,
                ));
            }
        }
        setups.push(Setup {
            label: label.clone(),
            ch05,
            root5,
            tag5,
            root6,
            tag6,
            root7,
            tag7,
        });
        let bin = dir.join("berth");
        if !bin.is_file() {
            eprintln!("berth: not measured{label} (no {})", bin.display());
            continue;
        }
        let berth = Rc::new(Berth::new(
            bin,
            work.path().join(format!("{k}/berth")),
            work.path().join(format!("r{k}")),
            format!("b{id}{k}z"),
        )?);
        berths.push(Rc::clone(&berth));
        berth.pull(&registry.host(), &image)?;
        variants.extend(berth_variants(&berth, &image, &modes, &label));
    }
    let runc = runc::Runc::prepare(&work.path().join("runc"), &rootfs)?;
    match &runc {
        Some(runc) => variants.push(Variant::new(
            "runc run (own network namespace)".into(),
            runc.run_command(),
        )),
        None => eprintln!("runc: not installed"),
    }
    let dockerd = match docker::Dockerd::start(
        &work.path().join("docker"),
        &format!("dkb{id}"),
        &registry.host(),
        &image,
    ) {
        Ok(Some(dockerd)) => Some(dockerd),
        Ok(None) => {
            eprintln!("docker: not measured (dockerd or docker not installed)");
            None
        }
        Err(e) => {
            eprintln!("docker: not measured: {e:#}");
            None
        }
    };
    if let Some(dockerd) = &dockerd {
        variants.extend(docker_variants(dockerd, &image, &modes));
    }
    let podman = match foreign_variants("podman", &image, &modes) {
        Some(more) => {
            variants.extend(more);
            true
        }
        None => {
            eprintln!("podman: not measured (not installed, or not answering)");
            false
        }
    };
    let result = measure(args, &mut variants, &setups, &rootfs)
        .and_then(|()| measure_memory(args, berths.first().map(|b| &**b), &image, podman));
    // Containers first (berth's and runc's), then networks and state roots.
    drop(variants);
    drop(berths);
    drop(runc);
    drop(dockerd);
    for s in &setups {
        cleanup(&[
            (&s.root5, &s.tag5),
            (&s.root6, &s.tag6),
            (&s.root7, &s.tag7),
        ]);
    }
    drop(registry);
    result
}

/// `berth run --rm` in each mode, and `berth run -d` (until it returns;
/// the container is removed after the timed part).
fn berth_variants(
    berth: &Rc<Berth>,
    image: &str,
    modes: &[(&str, Vec<&str>)],
    label: &str,
) -> Vec<Variant> {
    let mut variants: Vec<Variant> = modes
        .iter()
        .map(|(mode, flags)| {
            let mut args = vec!["run", "--rm"];
            args.extend(flags);
            args.push(image);
            args.extend(COMMAND);
            Variant::new(
                format!("berth run --rm {mode}{label}"),
                berth.command(&args),
            )
        })
        .collect();
    let remover = Rc::clone(berth);
    variants.push(Variant {
        name: format!("berth run -d none, until it returns{label}"),
        command: berth.command(&["run", "-d", "--network", "none", image, "sleep", "1000"]),
        split: false,
        after: Some(Box::new(move |out: &Output| {
            remover.remove(&[berth::container_id(&out.stdout)?])
        })),
        times: vec![],
    });
    variants
}

/// One build's binaries, state roots and tags.
struct Setup {
    label: String,
    ch05: PathBuf,
    root5: PathBuf,
    tag5: String,
    root6: PathBuf,
    tag6: String,
    root7: PathBuf,
    tag7: String,
}

/// `docker run --rm` in each mode, against the bench's own dockerd.
fn docker_variants(
    dockerd: &docker::Dockerd,
    image: &str,
    modes: &[(&str, Vec<&str>)],
) -> Vec<Variant> {
    modes
        .iter()
        .map(|(mode, flags)| {
            let mut args = vec!["run", "--rm"];
            args.extend(flags);
            args.push(image);
            args.extend(COMMAND);
            Variant::new(format!("docker run --rm {mode}"), dockerd.command(&args))
        })
        .collect()
}

/// `ENGINE run --rm` variants of `image`, if `ENGINE info` answers and
/// the image can be pulled from the local registry.
fn foreign_variants(
    engine: &str,
    image: &str,
    modes: &[(&str, Vec<&str>)],
) -> Option<Vec<Variant>> {
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !quiet(Command::new(engine).arg("info")) {
        return None;
    }
    let mut pull = Command::new(engine);
    pull.arg("pull");
    if engine == "podman" {
        pull.arg("--tls-verify=false");
    }
    if !quiet(pull.arg(image)) {
        return None;
    }
    // One trial run: an engine this machine does not let run (podman's
    // rlimits in a restricted sandbox, say) is left out, with its reason.
    let trial = Command::new(engine)
        .args(["run", "--rm", "--network", "none", image, "/bin/true"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !trial.status.success() {
        eprintln!(
            "{engine}: cannot run here: {}",
            String::from_utf8_lossy(&trial.stderr).trim()
        );
        return None;
    }
    Some(
        modes
            .iter()
            .map(|(mode, flags)| {
                let mut command = Command::new(engine);
                command
                    .args(["run", "--rm"])
                    .args(flags)
                    .arg(image)
                    .args(COMMAND)
                    .stdin(Stdio::null())
                    .stderr(Stdio::piped());
                Variant::new(format!("{engine} run --rm {mode}"), command)
            })
            .collect(),
    )
}

fn measure(
    args: &BenchArgs,
    variants: &mut [Variant],
    setups: &[Setup],
    rootfs: &Path,
) -> Result<()> {
    // One of each first: the networks are created, the caches warm.
    for v in variants.iter_mut() {
        v.time().with_context(|| v.name.clone())?;
    }
    let mut order: Vec<usize> = (0..variants.len()).collect();
    let mut seed = u64::from(std::process::id()) | 1;
    for round in 0..args.rounds {
        for _ in 0..args.runs {
            shuffle(&mut order, &mut seed);
            for &i in &order {
                let v = &mut variants[i];
                let time = v.time().with_context(|| v.name.clone())?;
                v.times.push(time);
            }
        }
        eprintln!("round {}/{} done", round + 1, args.rounds);
    }
    let width = variants
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0)
        .max(50);
    println!(
        "{:<width$} {:>10} {:>10} {:>10} {:>10} {:>10}   ({} rounds x {} runs, shuffled; medians, and the total's min and max)",
        "variant", "start", "teardown", "total", "min", "max", args.rounds, args.runs
    );
    for v in variants.iter() {
        let totals: Vec<Duration> = v.times.iter().map(|t| t.total).collect();
        let (med, min, max) = stats(&totals);
        let starts: Vec<Duration> = v.times.iter().filter_map(|t| t.start).collect();
        let teardowns: Vec<Duration> = v
            .times
            .iter()
            .filter_map(|t| Some(t.total - t.start?))
            .collect();
        let column = |d: &[Duration]| match d.is_empty() {
            true => format!("{:>10}", "-"),
            false => format!("{:>8.1}ms", ms(stats(d).0)),
        };
        println!(
            "{:<width$} {} {} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
            v.name,
            column(&starts),
            column(&teardowns),
            ms(med),
            ms(min),
            ms(max)
        );
    }
    // The network's share of a start: each mode's median over none's, by engine.
    println!();
    for v in variants.iter() {
        let Some((engine, rest)) = v.name.split_once(" run --rm ") else {
            continue;
        };
        let mode = rest.split(' ').next().unwrap_or("");
        if mode == "none" {
            continue;
        }
        let none = format!("{engine} run --rm none{}", &rest[mode.len()..]);
        let Some(base) = variants.iter().find(|b| b.name == none) else {
            continue;
        };
        let start = |v: &Variant| {
            let starts: Vec<Duration> = v.times.iter().filter_map(|t| t.start).collect();
            stats(&starts).0
        };
        println!(
            "{:<width$} {:>+8.1}ms start over none ({mode})",
            v.name,
            ms(start(v)) - ms(start(base)),
        );
    }
    if args.parallel > 0 {
        let mut walls = vec![vec![]; setups.len()];
        for _ in 0..args.parallel_rounds {
            for (s, walls) in setups.iter().zip(&mut walls) {
                interrupt::check()?;
                walls.push(parallel(args.parallel, &s.ch05, &s.root5, rootfs, &s.tag5)?);
            }
        }
        for (s, walls) in setups.iter().zip(&walls) {
            let (med, min, max) = stats(walls);
            println!(
                "{:<50} {:>8.1}ms {:>8.1}ms {:>8.1}ms   (wall time of all, {} rounds)",
                format!("{} parallel ch05 bridge starts{}", args.parallel, s.label),
                ms(med),
                ms(min),
                ms(max),
                args.parallel_rounds
            );
        }
    }
    Ok(())
}

/// The monitor's memory for one idle container (and conmon's), then the
/// host memory `args.idle` idle containers take.
fn measure_memory(
    args: &BenchArgs,
    berth: Option<&Berth>,
    image: &str,
    podman: bool,
) -> Result<()> {
    let Some(berth) = berth else {
        return Ok(());
    };
    let show = |what: &str, u: &Usage| {
        println!(
            "{:<50} RSS {:>6.1} MiB   PSS {:>6.1} MiB   USS {:>6.1} MiB",
            what,
            mib(u.rss),
            mib(u.pss),
            mib(u.uss)
        )
    };
    println!();
    let (monitor, sealed) = memory::one_monitor(berth, image)?;
    show("berth monitor, one idle container", &monitor);
    if let Some(bytes) = sealed {
        println!(
            "{:<50} {:>6.1} MiB (a memfd, the monitor's own for its life)",
            "berth monitor's sealed copy of berth",
            mib(bytes / 1024)
        );
    }
    match podman.then(|| memory::conmon(image)).flatten() {
        Some(u) => show("conmon, one idle podman container", &u),
        None => println!("conmon: not measured (podman not available)"),
    }
    if args.idle == 0 {
        return Ok(());
    }
    let idle = memory::idle(berth, image, args.idle)?;
    let median = |all: &[Usage]| Usage {
        rss: memory::median(all, |u| u.rss),
        pss: memory::median(all, |u| u.pss),
        uss: memory::median(all, |u| u.uss),
    };
    show(
        &format!("berth monitor, median of {}", idle.n),
        &median(&idle.monitors),
    );
    show(
        &format!("container's sleep, median of {}", idle.n),
        &median(&idle.sleeps),
    );
    let pss: u64 = idle.monitors.iter().map(|u| u.pss).sum();
    println!(
        "{:<50} {:>6.1} MiB of MemAvailable, {:.0} KiB each (monitors' PSS {:.1} MiB)",
        format!("{} idle containers (sleep), host", idle.n),
        idle.host_used as f64 / 1024.0,
        idle.host_used as f64 / idle.n as f64,
        mib(pss)
    );
    println!(
        "{:<50} {:>8.1}ms each to start (one after the other), {:.1}ms each to rm -f",
        format!("{} idle containers, time", idle.n),
        ms(idle.start) / idle.n as f64,
        ms(idle.remove) / idle.n as f64
    );
    Ok(())
}

/// `n` bridge runs started at once; the wall time until the last exits.
fn parallel(n: usize, ch05: &Path, root: &Path, rootfs: &Path, tag: &str) -> Result<Duration> {
    let start = Instant::now();
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(ch05)
                .arg("--root")
                .arg(root)
                .args(["run", "--rm"])
                .arg(rootfs)
                .arg("/bin/true")
                .env(crate::sweep::tag_var().map_err(std::io::Error::other)?, tag)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    let mut failed = vec![];
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            failed.push(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
    }
    let wall = start.elapsed();
    if let Some(first) = failed.first() {
        bail!(
            "{} of {n} parallel runs failed, the first: {first}",
            failed.len()
        );
    }
    Ok(wall)
}

fn check(command: &mut Command) -> Result<Output> {
    let out = command.output()?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// `cargo build --release` of the chapter binaries and berth; their directory.
fn build_release() -> Result<PathBuf> {
    let status = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args([
            "build",
            "--release",
            "-p",
            "ch05-network",
            "-p",
            "ch06-images",
            "-p",
            "ch07-security",
            "-p",
            "berth",
        ])
        .status()?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(paths::target_dir().join("release"))
}

/// Removes the bench's networks (bridge, chains) and what runs left.
fn cleanup(roots: &[(&Path, &String)]) {
    for (root, tag) in roots {
        let _ = crate::sweep::remove_networks(root, Some(tag));
    }
}

/// Fisher-Yates with xorshift64: a fresh order for each repetition.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for i in (1..order.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        order.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

fn stats(times: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let min = sorted.first().copied().unwrap_or_default();
    let max = sorted.last().copied().unwrap_or_default();
    (median, min, max)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
