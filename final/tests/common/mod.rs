//! What berth's scenario tests share: a registry on 127.0.0.1 seeded with
//! the fixture image, a state root and runtime directory of their own, a
//! network tag of their own; everything removed on drop (containers by
//! `rm -f`, networks, directories), so a run leaves the host as it was.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ch05_network::forward::UPSTREAM_VAR;
use ch05_network::network::TAG_VAR;

/// Where user-defined networks' resolvers forward names they do not know:
/// nothing listens there, so no query leaves the machine.
pub const NO_UPSTREAM: &str = "127.0.0.1:9";
use lab::registry::{Compression, Layout, Registry, fixture_layer, skopeo_push};
use lab::scenario::{Outcome, Scenario};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth");

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Setup {
    pub registry: Registry,
    pub tmp: tempfile::TempDir,
    pub tag: String,
    /// `127.0.0.1:PORT/busybox:engine`, pulled already.
    pub image: String,
}

impl Setup {
    pub fn new() -> Setup {
        let tmp = tempfile::Builder::new()
            .prefix("berth-engine-")
            .tempdir()
            .unwrap();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let registry = Registry::start().unwrap();
        let dir = tmp.path().join("layout");
        let mut layout = Layout::create(&dir).unwrap();
        let desc = layout
            .image(
                &[(fixture_layer().unwrap(), Compression::Gzip)],
                "amd64",
                &["/bin/sh"],
            )
            .unwrap();
        layout.tag("engine", &desc).unwrap();
        let image = format!("{}/busybox:engine", registry.host());
        skopeo_push(&dir, "engine", &image, false).unwrap();
        let s = Setup {
            registry,
            tmp,
            tag: format!(
                "e{}{}",
                std::process::id() % 100_000,
                char::from(b'a' + (n % 26) as u8)
            ),
            image,
        };
        s.berth(&["pull", "--insecure-registry", &s.registry.host(), &s.image])
            .expect_code(0);
        s
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// `berth --root R --run-dir D ARGS...`, with the paths and port hidden.
    pub fn berth(&self, args: &[&str]) -> Outcome {
        self.scenario(args).run()
    }

    /// `berth --root R --run-dir D ARGS...` as a plain command (raw
    /// output, ids unhidden; for spawning and killing, or binary output).
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(BIN);
        command
            .arg("--root")
            .arg(self.root())
            .arg("--run-dir")
            .arg(self.run_dir())
            .args(args)
            .env(TAG_VAR, &self.tag)
            .env(UPSTREAM_VAR, NO_UPSTREAM);
        command
    }

    /// Every container's full id, as they are (not hidden).
    pub fn ids(&self) -> Vec<String> {
        let out = self.command(&["ps", "-aq", "--no-trunc"]).output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
    }

    pub fn scenario(&self, args: &[&str]) -> Scenario {
        Scenario::new(BIN)
            .arg("--root")
            .arg(self.root())
            .arg("--run-dir")
            .arg(self.run_dir())
            .args(args)
            .env(TAG_VAR, &self.tag)
            .env(UPSTREAM_VAR, NO_UPSTREAM)
            .replace(self.root().display().to_string(), "<root>")
            .replace(self.run_dir().display().to_string(), "<run>")
            .replace(self.registry.host(), "127.0.0.1:PORT")
    }

    /// `run -d --pull never OPTIONS IMAGE COMMAND...`: the new id.
    pub fn run_detached(&self, options: &[&str], command: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--pull", "never"];
        args.extend(options);
        args.push(&self.image);
        args.extend(command);
        let out = self.berth(&args);
        out.expect_code(0);
        out.stdout.trim().to_string()
    }

    /// `inspect --format TEMPLATE CONTAINER`, trimmed.
    pub fn inspect(&self, container: &str, template: &str) -> String {
        let out = self.berth(&["inspect", "--format", template, container]);
        out.expect_code(0);
        out.stdout.trim().to_string()
    }

    /// Polls until `inspect`'s `.State.Status` is `status`.
    pub fn wait_status(&self, container: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // (Not there yet is fine while waiting: a creation in progress.)
            let out = self.berth(&["inspect", "--format", "{{.State.Status}}", container]);
            let now = out.stdout.trim().to_string();
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{container} stayed {now}, expected {status}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Mount points under the state root (none may outlive a container).
    pub fn mounts(&self) -> Vec<String> {
        let root = self.root().display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&root))
            .map(str::to_string)
            .collect()
    }

    /// The container directories under the state root.
    pub fn containers(&self) -> usize {
        std::fs::read_dir(self.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// This suite's host links (veth pairs and bridge carry the tag or an id).
    pub fn host_links(&self) -> Vec<String> {
        let out = std::process::Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .filter(|n| n.starts_with("vb") || n.contains(&self.tag))
            .collect()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.berth(&["rm", "-f", &id]);
        }
        // Raw output: the scenario's normalising would hide the ids.
        let ls = self
            .command(&["network", "ls", "-q", "--no-trunc"])
            .output();
        let ids = ls.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        for id in ids.unwrap_or_default().lines() {
            let _ = self.berth(&["network", "rm", id]);
        }
        // The default network of this suite's tag: its bridge and chains.
        if let Ok(host) = ch05_network::network::Host::new(self.root()).tagged(&self.tag) {
            let _ = host.delete_network("bridge");
        }
    }
}
