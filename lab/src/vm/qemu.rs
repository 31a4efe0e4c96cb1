//! Booting the image under QEMU: the command line, the 9p shares, and the
//! serial console, streamed line by line while the markers the init prints
//! (ready, exit status) are picked out of it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::initramfs::Image;

/// Printed by the init once the guest is set up.
pub const READY: &str = "BERTH-LAB-READY";
/// Printed by the init with the command's exit status, just before power-off.
pub const EXIT: &str = "BERTH-LAB-EXIT=";

/// How the VM is sized and accelerated.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Guest memory in MiB.
    pub memory: u32,
    pub cpus: u32,
    /// Use KVM instead of TCG emulation (only when asked for).
    pub kvm: bool,
    /// Stop a non-interactive VM that runs longer than this.
    pub timeout: Duration,
}

/// A host directory shared with the guest at the same absolute path.
#[derive(Debug, Clone)]
pub struct Share {
    pub tag: String,
    pub path: PathBuf,
    /// Directories inside it that the guest covers with a tmpfs instead.
    pub scratch: Vec<PathBuf>,
}

/// What the guest does after booting.
#[derive(Debug, Clone)]
pub enum Task {
    /// Run this bash script (a path inside a share), then power off.
    Script(PathBuf),
    /// An interactive root shell on the serial console, started in `cwd`.
    Shell { cwd: PathBuf },
}

/// Whether a console line is shown to the person running the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    Show,
    Hide,
}

/// What came back from a non-interactive boot.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The script's exit status, if the guest got to report it.
    pub status: Option<i32>,
    /// From starting QEMU to the guest's ready marker.
    pub boot_time: Option<Duration>,
    /// The `cgroup: ...` line the init printed.
    pub cgroup_line: Option<String>,
}

// ANCHOR: command
/// The QEMU command line for `image`.
pub fn command(
    qemu: &Path,
    image: &Image,
    machine: &Machine,
    shares: &[Share],
    task: &Task,
) -> Result<Command> {
    let mut append = vec![
        "console=ttyS0".to_string(),
        "quiet".into(),
        "loglevel=3".into(),
        "panic=-1".into(),
    ];
    let mut cmd = Command::new(qemu);
    cmd.args(["-machine", "q35", "-nodefaults", "-no-user-config"]);
    if machine.kvm {
        cmd.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        cmd.args(["-accel", "tcg", "-cpu", "max"]);
    }
    cmd.arg("-m").arg(machine.memory.to_string());
    cmd.arg("-smp").arg(machine.cpus.to_string());
    // qboot skips SeaBIOS and the network boot ROM: faster, and quiet.
    let qboot = Path::new("/usr/share/qemu/qboot.rom");
    if qboot.is_file() {
        cmd.arg("-bios").arg(qboot);
    }
    cmd.args(["-nographic", "-serial", "mon:stdio", "-no-reboot"]);
    cmd.args(["-device", "virtio-rng-pci"]);
    cmd.arg("-kernel").arg(image.kernel.boot_image());
    cmd.arg("-initrd").arg(&image.initramfs);
    for share in shares {
        let path = plain(&share.path)?;
        cmd.arg("-virtfs").arg(format!(
            "local,path={path},mount_tag={},security_model=none,multidevs=remap",
            share.tag
        ));
        append.push(format!("lab.share={}:{path}", share.tag));
        for dir in &share.scratch {
            append.push(format!("lab.scratch={}", plain(dir)?));
        }
    }
    match task {
        Task::Script(script) => append.push(format!("lab.run={}", plain(script)?)),
        Task::Shell { cwd } => {
            append.push(format!("lab.cwd={}", plain(cwd)?));
            if let Some((rows, cols)) = terminal_size() {
                append.push(format!("lab.tty={rows}x{cols}"));
            }
        }
    }
    cmd.arg("-append").arg(append.join(" "));
    if std::env::var_os("LAB_VM_DEBUG").is_some() {
        eprintln!("lab vm: {cmd:?}");
    }
    Ok(cmd)
}
// ANCHOR_END: command

/// The size of the terminal we run in, so the guest's shell wraps lines
/// where the terminal does (a serial console cannot tell it).
fn terminal_size() -> Option<(u16, u16)> {
    let out = Command::new("stty")
        .arg("size")
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace().map(|w| w.parse::<u16>().ok());
    Some((words.next()??, words.next()??))
}

/// A path as a string that survives the kernel command line and -virtfs.
fn plain(path: &Path) -> Result<&str> {
    match path.to_str() {
        Some(s) if !s.contains(|c: char| c.is_whitespace() || c == ',') => Ok(s),
        _ => bail!(
            "the lab VM cannot share {}: move it to a path without spaces or commas",
            path.display()
        ),
    }
}

/// Boots with the console on our terminal (for the interactive shell).
pub fn interactive(mut cmd: Command) -> Result<i32> {
    let status = cmd.status().context("starting qemu-system-x86_64")?;
    Ok(status.code().unwrap_or(1))
}

/// Boots, echoes the guest's console to stdout, hands every line that is
/// not a marker to `observe` (with the time since QEMU started), and
/// reports what the init said. Stdin is closed: nothing in the guest waits
/// for input. QEMU is killed if it runs longer than `timeout`.
pub fn stream(
    mut cmd: Command,
    timeout: Duration,
    mut observe: impl FnMut(&str, Duration) -> Echo,
) -> Result<Outcome> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let watchdog = Watchdog::start(child.id(), timeout);
    let stderr = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut err) = stderr {
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
        }
        text
    });
    let mut outcome = Outcome {
        status: None,
        boot_time: None,
        cgroup_line: None,
    };
    let stdout = child.stdout.take().context("qemu has no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut raw = Vec::new();
    let out = std::io::stdout();
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if line == READY {
            let took = started.elapsed();
            outcome.boot_time = Some(took);
            println!("lab vm: guest ready after {:.1} s", took.as_secs_f64());
            continue;
        }
        if let Some(code) = line.strip_prefix(EXIT) {
            outcome.status = code.trim().parse().ok();
            continue;
        }
        if outcome.status.is_some() && line.ends_with("reboot: Power down") {
            continue;
        }
        if line.starts_with("cgroup: ") && outcome.cgroup_line.is_none() {
            outcome.cgroup_line = Some(line.to_string());
        }
        if observe(line, started.elapsed()) == Echo::Hide {
            continue;
        }
        let mut out = out.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    let status = child.wait()?;
    let timed_out = watchdog.finish();
    let stderr = stderr_reader.join().unwrap_or_default();
    if timed_out {
        bail!(
            "the VM ran longer than {} s and was stopped (raise it with --timeout)",
            timeout.as_secs()
        );
    }
    if outcome.status.is_none() {
        let detail = stderr.trim();
        bail!(
            "the VM stopped ({status}) without reporting an exit status{}",
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        );
    }
    Ok(outcome)
}

/// Kills QEMU (our own child, by pid) if it outlives its time limit.
struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(pid: u32, timeout: Duration) -> Watchdog {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let (lock, cvar) = &*shared;
            let Ok(guard) = lock.lock() else {
                return false;
            };
            let Ok((finished, _)) = cvar.wait_timeout_while(guard, timeout, |done| !*done) else {
                return false;
            };
            if *finished {
                return false;
            }
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            true
        });
        Watchdog { done, thread }
    }

    /// Stops watching; true if the time limit had been hit.
    fn finish(self) -> bool {
        let (lock, cvar) = &*self.done;
        if let Ok(mut done) = lock.lock() {
            *done = true;
        }
        cvar.notify_all();
        self.thread.join().unwrap_or(false)
    }
}
