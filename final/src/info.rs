//! `info`: the engine's and the host's facts, in `docker info`'s shape:
//! containers by state, images, drivers, the cgroup layout (chapter 3),
//! the kernel, the machine.

use ch03_cgroups::{Layout, Version};

use crate::context::Engine;
use crate::lookup::all;
use crate::record::Status;
use crate::stats::{binary_size, host_memory};
use crate::{Error, Result};

pub fn info(engine: &Engine) -> Result<String> {
    let layout = Layout::detect()?;
    let (found, _) = all(engine)?;
    let count = |s: Status| found.iter().filter(|f| f.record.state.status == s).count();
    let (running, paused) = (
        count(Status::Running) + count(Status::Restarting),
        count(Status::Paused),
    );
    let images = engine.images()?.images()?.len();
    let uname = nix::sys::utsname::uname().map_err(|e| Error::engine(format!("uname: {e}")))?;
    let version = match layout.version {
        Version::V2 => "2",
        Version::V1 => "1",
        Version::Hybrid => "1 (hybrid: v1 controllers, a cgroup2 mount beside them)",
    };
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line("Client:".into());
    line(format!(" Version:    {}", env!("CARGO_PKG_VERSION")));
    line(" Context:    default".into());
    line(" Debug Mode: false".into());
    line(String::new());
    line("Server:".into());
    line(format!(" Containers: {}", found.len()));
    line(format!("  Running: {running}"));
    line(format!("  Paused: {paused}"));
    line(format!("  Stopped: {}", found.len() - running - paused));
    line(format!(" Images: {images}"));
    line(format!(
        " Server Version: {} (daemonless)",
        env!("CARGO_PKG_VERSION")
    ));
    line(" Storage Driver: overlay2".into());
    line(" Logging Driver: json-file".into());
    line(" Cgroup Driver: cgroupfs".into());
    line(format!(" Cgroup Version: {version}"));
    line(format!(" Cgroup Layout: {layout}"));
    line(format!(
        " Kernel Version: {}",
        uname.release().to_string_lossy()
    ));
    line(format!(" Operating System: {}", os_name()));
    line(" OSType: linux".into());
    line(format!(
        " Architecture: {}",
        uname.machine().to_string_lossy()
    ));
    line(format!(" CPUs: {}", ch03_cgroups::run::online_cpus()));
    line(format!(" Total Memory: {}", binary_size(host_memory())));
    line(format!(" Name: {}", uname.nodename().to_string_lossy()));
    line(format!(" Root Dir: {}", engine.root.display()));
    // What every container gets unless its options say otherwise
    // (chapter 7's defaults, Docker's).
    line(" Security Options:".into());
    line("  seccomp".into());
    line(format!(
        "   Profile: builtin ({} system calls always allowed, the rest EPERM unless a capability or argument allows them)",
        ch07_security::seccomp::default_profile::ALWAYS.len()
    ));
    line(format!(
        "  capabilities: {} (Docker's default set)",
        ch07_security::capabilities::DEFAULT.len()
    ));
    line(format!(
        "  masked paths: {}, read-only paths: {}",
        ch07_security::masks::MASKED.len(),
        ch07_security::masks::READ_ONLY.len()
    ));
    line("  sealed runtime copy (CVE-2019-5736)".into());
    if !nix::unistd::geteuid().is_root() {
        line("  rootless".into());
    }
    Ok(out)
}

/// PRETTY_NAME of /etc/os-release.
fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}
