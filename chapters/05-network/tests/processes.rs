//! What a bridge run costs in processes: none of `ip` (links, addresses
//! and routes go through netlink) and at most one firewall process to set
//! up and one to tear down (one `iptables-restore` transaction each), once
//! the network exists. Counted with a PATH of logging wrappers in front of
//! the real tools, for the binary under test only.

use std::path::{Path, PathBuf};
use std::process::Command;

use ch05_network::network::{Host, TAG_VAR};
use lab::fixture;
use lab::privileged::require_root;

const BIN: &str = env!("CARGO_BIN_EXE_ch05-network");

/// The tools a network step might start, wrapped.
const TOOLS: &[&str] = &[
    "ip",
    "iptables",
    "iptables-save",
    "iptables-restore",
    "iptables-nft",
    "iptables-legacy",
    "nft",
    "sysctl",
    "nsenter",
];

/// A directory of wrappers: each logs its name and arguments to `log`,
/// then runs the real tool found on the original PATH.
fn shims(dir: &Path, log: &Path) -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    for tool in TOOLS {
        let real = path
            .split(':')
            .map(|d| PathBuf::from(d).join(tool))
            .find(|p| p.is_file());
        let exec = match real {
            Some(real) => format!("exec {} \"$@\"", real.display()),
            None => "exit 127".to_string(),
        };
        let script = format!(
            "#!/bin/sh\necho \"{tool} $*\" >> {}\n{exec}\n",
            log.display()
        );
        let file = dir.join(tool);
        std::fs::write(&file, script).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&file, mode).unwrap();
    }
    format!("{}:{path}", dir.display())
}

/// Runs `ch05-network run --rm ARGS <fixture> /bin/true` under the shims;
/// returns the logged invocations.
fn logged_run(root: &Path, tag: &str, path: &str, log: &Path, args: &[&str]) -> Vec<String> {
    let _ = std::fs::remove_file(log);
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(["run", "--rm"])
        .args(args)
        .arg(fixture::rootfs())
        .arg("/bin/true")
        .env(TAG_VAR, tag)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_bridge_run_starts_no_ip_and_one_firewall_process_each_way() {
    if !require_root() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("berth-ch05-test-")
        .tempdir()
        .unwrap();
    let (root, bin, log) = (
        dir.path().join("state"),
        dir.path().join("bin"),
        dir.path().join("log"),
    );
    std::fs::create_dir(&bin).unwrap();
    let path = shims(&bin, &log);
    let tag = format!("p{}", std::process::id());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let publish = format!("{port}:80");

    // The first run creates the default network (one read, one
    // transaction) before its own transaction; still no `ip`.
    let first = logged_run(&root, &tag, &path, &log, &[]);
    let runs = [
        logged_run(&root, &tag, &path, &log, &[]),
        logged_run(&root, &tag, &path, &log, &["-p", &publish]),
        logged_run(&root, &tag, &path, &log, &["--network", "none"]),
    ];

    let host = Host::new(&root).tagged(&tag).unwrap();
    host.delete_network("bridge").unwrap();
    assert!(!host.firewall.installed().unwrap(), "chains left");

    let ip = |calls: &[String]| calls.iter().filter(|c| c.starts_with("ip ")).count();
    let firewall = |calls: &[String]| {
        calls
            .iter()
            .filter(|c| c.starts_with("iptables") || c.starts_with("nft"))
            .count()
    };
    assert_eq!(ip(&first), 0, "{first:#?}");
    assert!(firewall(&first) <= 3, "network creation: {first:#?}");
    let [bridge, published, none] = runs;
    assert!(
        bridge.iter().all(|c| c.starts_with("iptables-restore ")) && bridge.len() <= 1,
        "a bridge run: {bridge:#?}"
    );
    assert!(
        published.iter().all(|c| c.starts_with("iptables-restore ")) && published.len() <= 2,
        "a run with -p (setup and teardown): {published:#?}"
    );
    assert!(none.is_empty(), "--network none: {none:#?}");
}
