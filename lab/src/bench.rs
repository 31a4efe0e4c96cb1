//! `cargo lab bench`: how long a container takes to start and stop, by
//! network mode, side by side in one interleaved run. Measurement only:
//! nothing here is asserted by a test (timings depend on the machine).
//!
//! Each round runs every variant once per repetition, in turn, so a slow
//! moment of the machine hits all of them alike; the medians are printed.
//! The variants: `ch05-network run --rm` on the fixture root and
//! `ch06-images run --rm` of the fixture image (from a local registry),
//! each with `--network none`, the default bridge and `-p PORT:80`; then
//! N parallel bridge starts of chapter 5, wall time. Docker and podman
//! join in when installed and answering (`docker info`, `podman info`),
//! running the same image pulled from the same local registry; nothing is
//! installed for them. runc is left out (it needs a bundle, not an image).
//!
//! The networks live on a bridge and chains of the bench's own
//! (`BERTH_NETWORK_TAG`), removed at the end with the state roots.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{fixture, paths, registry};

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
    /// Where ch05-network and ch06-images are (default: a release build of
    /// this workspace). Repeat it to compare builds in the same interleaved run.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Vec<PathBuf>,
}

struct Variant {
    name: String,
    command: Command,
    times: Vec<Duration>,
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
    let mut variants = vec![];
    for (k, dir) in bin_dirs.iter().enumerate() {
        let label = if bin_dirs.len() > 1 {
            format!(" [{}]", dir.display())
        } else {
            String::new()
        };
        let (ch05, ch06) = (dir.join("ch05-network"), dir.join("ch06-images"));
        let (tag5, tag6) = (format!("b{id}{k}x"), format!("b{id}{k}y"));
        let (root5, root6) = (
            work.path().join(format!("{k}/ch05")),
            work.path().join(format!("{k}/ch06")),
        );
        check(
            Command::new(&ch06)
                .arg("--root")
                .arg(&root6)
                .args(["pull", "-q", &image])
                .env(ch05_network::network::TAG_VAR, &tag6),
        )?;
        for (engine, bin, root, what, tag) in [
            (
                "ch05-network",
                &ch05,
                &root5,
                rootfs.display().to_string(),
                &tag5,
            ),
            ("ch06-images", &ch06, &root6, image.clone(), &tag6),
        ] {
            for (mode, flags) in &modes {
                let mut command = Command::new(bin);
                command
                    .arg("--root")
                    .arg(root)
                    .args(["run", "--rm"])
                    .args(flags)
                    .args([what.as_str(), "/bin/true"])
                    .env(ch05_network::network::TAG_VAR, tag)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                variants.push(Variant {
                    name: format!("{engine} run --rm {mode}{label}"),
                    command,
                    times: vec![],
                });
            }
        }
        setups.push(Setup {
            label,
            ch05,
            root5,
            tag5,
            root6,
            tag6,
        });
    }
    for engine in ["docker", "podman"] {
        match foreign_variants(engine, &image, &modes) {
            Some(more) => variants.extend(more),
            None => eprintln!("{engine}: not measured (not installed, or not answering)"),
        }
    }
    let result = measure(args, &mut variants, &setups, &rootfs);
    for s in &setups {
        cleanup(&[(&s.root5, &s.tag5), (&s.root6, &s.tag6)]);
    }
    drop(registry);
    result
}

/// One build's binaries, state roots and tags.
struct Setup {
    label: String,
    ch05: PathBuf,
    root5: PathBuf,
    tag5: String,
    root6: PathBuf,
    tag6: String,
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
    Some(
        modes
            .iter()
            .map(|(mode, flags)| {
                let mut command = Command::new(engine);
                command
                    .args(["run", "--rm"])
                    .args(flags)
                    .args([image, "/bin/true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                Variant {
                    name: format!("{engine} run --rm {mode}"),
                    command,
                    times: vec![],
                }
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
        check(&mut v.command)?;
    }
    for round in 0..args.rounds {
        for _ in 0..args.runs {
            for v in variants.iter_mut() {
                let start = Instant::now();
                check(&mut v.command).with_context(|| v.name.clone())?;
                v.times.push(start.elapsed());
            }
        }
        eprintln!("round {}/{} done", round + 1, args.rounds);
    }
    println!(
        "{:<50} {:>10} {:>10} {:>10}   ({} rounds x {} runs, interleaved)",
        "variant", "median", "min", "max", args.rounds, args.runs
    );
    for v in variants.iter() {
        let (med, min, max) = stats(&v.times);
        println!(
            "{:<50} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
            v.name,
            ms(med),
            ms(min),
            ms(max)
        );
    }
    if args.parallel > 0 {
        let mut walls = vec![vec![]; setups.len()];
        for _ in 0..args.parallel_rounds {
            for (s, walls) in setups.iter().zip(&mut walls) {
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
                .env(ch05_network::network::TAG_VAR, tag)
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

fn check(command: &mut Command) -> Result<()> {
    let out = command.output()?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `cargo build --release` of the two chapter binaries; their directory.
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
        if let Ok(host) = ch05_network::network::Host::new(root).tagged(tag) {
            let _ = ch05_network::sweep::remove_networks(&host);
        }
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
