//! Chapter 6 scenarios: `ch06-images pull` then `run` as a user types them,
//! as root, against a real registry (Debian's docker-registry on 127.0.0.1)
//! seeded with skopeo. Each snapshot is the output the book shows.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use ch05_network::network::TAG_VAR;
use lab::privileged::require_root;
use lab::registry::{Compression, LayerTar, Layout, Registry, fixture_layer, skopeo_push};
use lab::scenario::{Outcome, Scenario};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_ch06-images");

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A registry, a state root and a place for layouts, all removed on drop,
/// and a network tag (`t<pid><letter>`), so that this test's default
/// network has a bridge and chains of its own (chapter 5).
struct Setup {
    registry: Registry,
    tmp: tempfile::TempDir,
    tag: String,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::Builder::new()
            .prefix("berth-ch06-")
            .tempdir()
            .unwrap();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Setup {
            registry: Registry::start().unwrap(),
            tmp,
            tag: format!("t{}{}", std::process::id(), char::from(b'a' + n as u8)),
        }
    }

    fn root(&self) -> std::path::PathBuf {
        self.tmp.path().join("state")
    }

    /// `ch06-images --root <root> ARGS...`, with the port and root hidden.
    fn ch06(&self, args: &[&str]) -> Outcome {
        Scenario::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env(TAG_VAR, &self.tag)
            .replace(self.root().display().to_string(), "<root>")
            .replace(self.registry.host(), "127.0.0.1:PORT")
            .run()
    }

    fn image(&self, tag: &str) -> String {
        format!("{}/busybox:{tag}", self.registry.host())
    }

    /// Mount points under the state root (none may outlive a run).
    fn mounts(&self) -> Vec<String> {
        let root = self.root().display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&root))
            .map(str::to_string)
            .collect()
    }

    fn containers(&self) -> usize {
        std::fs::read_dir(self.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // A failed assertion may leave a kept container: remove it (and
        // its mount, if any) through the binary before the tempdir goes.
        if let Ok(entries) = std::fs::read_dir(self.root().join("containers")) {
            let ids: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !ids.is_empty() {
                let _ = self.ch06(
                    &[
                        &["rm"],
                        &ids.iter().map(|s| s.as_str()).collect::<Vec<_>>()[..],
                    ]
                    .concat(),
                );
            }
        }
        // The default network stays, as Docker's does (`network rm`
        // refuses it): take it down through chapter 5's library, and check
        // its bridge went with it.
        let host = ch05_network::network::Host::new(self.root()).tagged(&self.tag);
        if let Ok(host) = host {
            let _ = host.delete_network("bridge");
        }
        let bridge = format!("berth-{}", self.tag);
        let left = Path::new("/sys/class/net").join(&bridge).exists();
        if left {
            let _ = ch05_network::bridge::delete_link(&bridge);
        }
        if !std::thread::panicking() {
            assert!(!left, "the bridge {bridge} was left behind");
        }
    }
}

/// The transcript of several outcomes, as the book shows them.
fn transcript(outcomes: &[&Outcome]) -> String {
    outcomes.iter().map(|o| o.render()).collect()
}

/// The acceptance: pull the multi-layer image, run the probe in
/// it, and see from inside that the whiteout layer's deletion holds.
#[test]
fn pull_and_run_the_layers_image() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let image = lab::registry::seed_layers(&s.tmp.path().join("layout"), &s.registry).unwrap();

    let pulled = s.ch06(&["pull", "-q", &image]);
    pulled.expect_code(0);

    let probe = s.ch06(&["run", "--name", "p", &image, "/probe"]);
    probe.expect_code(0);
    assert_eq!(probe.value("ns.pid"), Some("new"), "{}", probe.render());
    assert_eq!(probe.value("ns.mnt"), Some("new"), "{}", probe.render());
    // Chapter 5 connected it to the default bridge network.
    assert!(
        probe
            .stdout
            .lines()
            .any(|l| l.starts_with("net.if: eth0 up ")),
        "{}",
        probe.render()
    );
    assert!(s.mounts().is_empty(), "a mount outlived the run");

    let look = s.ch06(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "if [ -e /etc/deleted.txt ]; then echo deleted.txt: present; \
         else echo deleted.txt: absent; fi; cat /etc/kept.txt /layer4.txt; ls /www",
    ]);
    look.expect_code(0);
    let lines: Vec<&str> = look.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "deleted.txt: absent",
            "still here",
            "uncompressed",
            "new.html"
        ],
        "{}",
        look.render()
    );
    assert_eq!(s.containers(), 1, "--rm removed its container; p stays");

    // The kept container stands on the image's layers: rmi refuses, and
    // succeeds once the container is gone.
    let refused = s.ch06(&["rmi", &image]);
    refused.expect_code(125);
    assert!(
        refused.stderr.contains("container p stands on its layer"),
        "{}",
        refused.render()
    );
    s.ch06(&["images"]).expect_code(0);
    assert!(
        s.ch06(&["images"]).stdout.contains("layers"),
        "the refused rmi untagged the image"
    );
    s.ch06(&["rm", "p"]).expect_code(0);
    let removed = s.ch06(&["rmi", &image]);
    removed.expect_code(0);
    assert_eq!(removed.stdout.matches("Deleted layer").count(), 4);
    assert!(s.mounts().is_empty());

    insta::assert_snapshot!(
        "pull_and_run_layers",
        transcript(&[&pulled, &look, &refused])
    );
}

/// An image with every part of the config Docker applies: Entrypoint,
/// Cmd, Env, WorkingDir (missing in the image: created) and a named User
/// from the image's own /etc/passwd.
fn seed_config_image(s: &Setup) -> String {
    let dir = s.tmp.path().join("layout");
    let mut layout = Layout::create(&dir).unwrap();
    let users = LayerTar::new()
        .dir("etc/")
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .file("etc/group", b"root:x:0:\nwheel:x:10:app\napp:x:1000:\n")
        .finish();
    let base = fixture_layer().unwrap();
    let desc = layout
        .image_config(
            &[
                (base.clone(), Compression::Gzip),
                (users, Compression::Gzip),
            ],
            "amd64",
            json!({
                "Entrypoint": ["/bin/echo", "entry"],
                "Cmd": ["from-cmd"],
                "Env": ["PATH=/bin:/usr/bin", "GREETING=hello"],
                "WorkingDir": "/srv/app",
                "User": "app",
            }),
        )
        .unwrap();
    layout.tag("config", &desc).unwrap();
    let bare = layout
        .image_config(&[(base, Compression::Gzip)], "amd64", json!({}))
        .unwrap();
    layout.tag("nocmd", &bare).unwrap();
    for tag in ["config", "nocmd"] {
        skopeo_push(&dir, tag, &s.image(tag), false).unwrap();
    }
    s.image("config")
}

const SHOW: &str =
    "echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G) pwd=$(pwd) home=$HOME greeting=$GREETING\"";

#[test]
fn image_config_and_overrides() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let image = seed_config_image(&s);
    s.ch06(&["pull", "-q", &image]).expect_code(0);

    let default = s.ch06(&["run", "--rm", &image]);
    let cmd = s.ch06(&["run", "--rm", &image, "one", "two"]);
    let inside = s.ch06(&["run", "--rm", "--entrypoint", "/bin/sh", &image, "-c", SHOW]);
    let overridden = s.ch06(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        "-u",
        "4242:4343",
        "-w",
        "/tmp",
        "-e",
        "GREETING=bye",
        &image,
        "-c",
        SHOW,
    ]);
    let cleared = s.ch06(&["run", "--rm", "--entrypoint", "", &image, "echo", "cleared"]);
    for o in [&default, &cmd, &inside, &overridden, &cleared] {
        o.expect_code(0);
    }
    assert_eq!(default.stdout, "entry from-cmd\n");
    assert_eq!(cmd.stdout, "entry one two\n");
    assert_eq!(
        inside.stdout,
        "uid=1000 gid=1000 groups=1000 10 pwd=/srv/app home=/home/app greeting=hello\n"
    );
    assert_eq!(
        overridden.stdout,
        "uid=4242 gid=4343 groups=4343 pwd=/tmp home=/ greeting=bye\n"
    );
    assert_eq!(cleared.stdout, "cleared\n");
    // --pull always asks the registry again; the layers are all there.
    let always = s.ch06(&["run", "--rm", "--pull", "always", &image]);
    always.expect_code(0);
    assert_eq!(always.stdout, "entry from-cmd\n");
    assert_eq!(
        always.stderr.matches("Already exists").count(),
        2,
        "{}",
        always.render()
    );
    assert_eq!(s.containers(), 0, "--rm left a container");
    assert!(s.mounts().is_empty());
    insta::assert_snapshot!(
        "image_config",
        transcript(&[&default, &cmd, &inside, &overridden, &cleared])
    );
}

#[test]
fn run_errors_are_one_line() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let image = seed_config_image(&s);
    let never = s.ch06(&["run", "--rm", "--pull", "never", &image]);
    // `--pull never` pulled nothing.
    let images = s.ch06(&["images"]);
    assert_eq!(images.stdout.lines().count(), 1, "{}", images.render());
    let nocmd = s.ch06(&["run", "--rm", "-q", &s.image("nocmd")]);
    // Without --rm too: the container never started, so it is not kept.
    let ghost = s.ch06(&["run", "-q", "-u", "ghost", &image]);
    let missing = s.ch06(&["run", "--rm", "-q", &s.image("nope")]);
    let policy = s.ch06(&["run", "--pull", "sometimes", &image]);
    for o in [&never, &nocmd, &ghost, &missing, &policy] {
        o.expect_code(125);
        assert!(o.stdout.is_empty(), "{}", o.render());
    }
    // The engine's refusals are one line; clap's usage errors add a hint.
    for o in [&never, &nocmd, &ghost, &missing] {
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.render());
    }
    assert!(
        never
            .stderr
            .starts_with("ch06-images: No such image: 127.0.0.1:PORT/busybox:config"),
        "{}",
        never.render()
    );
    assert_eq!(nocmd.stderr, "ch06-images: no command specified\n");
    assert!(
        ghost
            .stderr
            .contains("unable to find user ghost: no matching entries in passwd file"),
        "{}",
        ghost.render()
    );
    assert!(missing.stderr.contains("not found"), "{}", missing.render());
    // Nothing half-made: no container, no mount.
    assert_eq!(s.containers(), 0);
    assert!(s.mounts().is_empty());
    insta::assert_snapshot!(
        "run_errors",
        transcript(&[&never, &nocmd, &ghost, &missing, &policy])
    );
}
