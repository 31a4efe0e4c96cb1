//! berth-runtime driven by real dockerd: the test starts its own dockerd
//! (Debian's docker.io, from `cargo lab setup`) with a private data root,
//! exec root and socket, no default bridge and no iptables rules (one
//! network of its own, removed after), and berth-runtime added as the
//! runtime `berth`; dockerd runs its own containerd, whose
//! runc shim runs berth-runtime. The image comes from a test registry on
//! 127.0.0.1. Everything is stopped by pid, unmounted and removed after.
//! Runs as root.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use lab::registry::Registry;

mod daemon;

const RUNTIME: &str = env!("CARGO_BIN_EXE_berth-runtime");
/// Debian's client, the same version as its dockerd.
const DOCKER: &str = "/usr/bin/docker";
const NAMES: [&str; 5] = ["b-hi", "b-code", "b-exec", "b-tty", "b-net"];
/// A Docker network of the test's own (a bridge on the host while it lives).
const NETWORK: &str = "berth-rt-net";

struct Dockerd {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    image: String,
    _registry: Registry,
    _host_paths: daemon::HostPaths,
}

impl Dockerd {
    fn start() -> Dockerd {
        daemon::require(&["dockerd", DOCKER, "containerd", "containerd-shim-runc-v2"]);
        let host_paths = daemon::HostPaths::note(&lab::daemon::DOCKERD_HOST_PATHS);
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir()
            .unwrap();
        let flags = [
            "--bridge=none".to_string(),
            "--iptables=false".to_string(),
            "--ip-masq=false".to_string(),
            format!("--add-runtime=berth={RUNTIME}"),
        ];
        let daemon = lab::daemon::dockerd_command(dir.path(), &flags)
            .unwrap()
            .spawn()
            .unwrap();
        let registry = Registry::start().unwrap();
        let dockerd = Dockerd {
            dir,
            daemon: Some(daemon),
            image: format!("{}/busybox:docker", registry.host()),
            _registry: registry,
            _host_paths: host_paths,
        };
        dockerd.wait_ready();
        dockerd.seed_and_pull();
        dockerd
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn wait_ready(&self) {
        daemon::wait_until(
            "dockerd",
            &self.dir.path().join("dockerd.log"),
            Duration::from_secs(30),
            || self.docker(&["version"]).status.success(),
        );
    }

    /// The fixture in the test registry, pulled by dockerd (127.0.0.1 is
    /// an insecure registry to it by default).
    fn seed_and_pull(&self) {
        daemon::push_fixture(self.dir.path(), "docker", &self.image);
        let out = self.docker(&["pull", &self.image]);
        assert!(out.status.success(), "{out:?}");
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `docker run --runtime berth --network none` with `options`, the
    /// image, then `command`.
    fn run(&self, options: &[&str], command: &[&str]) -> Output {
        let mut args = vec!["run", "--runtime", "berth", "--network", "none"];
        args.extend_from_slice(options);
        args.push(&self.image);
        args.extend_from_slice(command);
        self.docker(&args)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        for name in NAMES {
            let _ = self.docker(&["rm", "--force", name]);
        }
        let _ = self.docker(&["network", "rm", NETWORK]);
        if let Some(mut child) = self.daemon.take() {
            daemon::stop(&mut child);
        }
        let containerd = self.dir.path().join("exec/containerd/containerd.sock");
        daemon::kill_shims(&containerd);
        daemon::unmount_under(self.dir.path());
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn dockerd_runs_containers_through_berth_runtime() {
    let dockerd = Dockerd::start();

    let out = dockerd.run(&["--rm", "--name", "b-hi"], &["echo", "hi"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "hi\n");
    let out = dockerd.run(&["--rm", "--name", "b-code"], &["sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");

    // -d, exec, stop: `sleep` as pid 1 ignores SIGTERM, so stop's SIGKILL
    // ends it, and dockerd records 137.
    let out = dockerd.run(&["-d", "--name", "b-exec"], &["sleep", "100"]);
    assert!(out.status.success(), "{out:?}");
    let out = dockerd.docker(&["exec", "b-exec", "sh", "-c", "cat /proc/1/comm; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(text(&out.stdout), "sleep\n");
    let out = dockerd.docker(&["stop", "--time", "1", "b-exec"]);
    assert!(out.status.success(), "{out:?}");
    let out = dockerd.docker(&["inspect", "--format", "{{.State.ExitCode}}", "b-exec"]);
    assert_eq!(text(&out.stdout).trim(), "137", "{out:?}");
    assert!(dockerd.docker(&["rm", "b-exec"]).status.success());

    // -t: a pty through the console socket; its output comes back with
    // the terminal's line endings.
    let out = dockerd.run(
        &["--rm", "-t", "--name", "b-tty"],
        &["sh", "-c", "test -t 1 && echo on-a-tty"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "on-a-tty\r\n");

    // A Docker network: dockerd connects the container through the
    // prestart hook berth-runtime runs (`libnetwork-setkey`). No iptables
    // rules (--iptables=false): only the bridge and a veth, removed after.
    let out = dockerd.docker(&["network", "create", NETWORK]);
    assert!(out.status.success(), "{out:?}");
    let out = dockerd.docker(&[
        "run",
        "--rm",
        "--runtime",
        "berth",
        "--name",
        "b-net",
        "--network",
        NETWORK,
        &dockerd.image,
        "sh",
        "-c",
        "ip -4 -o addr show eth0",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("inet "), "{out:?}");
    assert!(dockerd.docker(&["network", "rm", NETWORK]).status.success());

    // berth-runtime's state directories are gone with the containers.
    let root = dockerd.dir.path().join("exec/runtime-runc/moby");
    let left: Vec<_> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
