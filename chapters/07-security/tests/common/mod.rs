//! What chapter 7's scenario tests share: a registry seeded with the
//! fixture image (plus a set-uid copy of the probe), a state root, a
//! network tag of their own, all removed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ch05_network::network::TAG_VAR;
use lab::registry::{Compression, LayerTar, Layout, Registry, fixture_layer, skopeo_push};
use lab::scenario::{Outcome, Scenario};

pub const BIN: &str = env!("CARGO_BIN_EXE_ch07-security");

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Setup {
    registry: Registry,
    pub tmp: tempfile::TempDir,
    tag: String,
    pub image: String,
}

impl Setup {
    /// A registry holding `busybox:security` (the fixture and
    /// `/suid-probe`, the probe owned by root with the set-uid bit), pulled.
    pub fn new() -> Setup {
        let tmp = tempfile::Builder::new()
            .prefix("berth-ch07-")
            .tempdir()
            .unwrap();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let registry = Registry::start().unwrap();
        let dir = tmp.path().join("layout");
        let mut layout = Layout::create(&dir).unwrap();
        let probe = std::fs::read(lab::fixture::rootfs().join("probe")).unwrap();
        let suid = LayerTar::new()
            .raw(tar::EntryType::Regular, "suid-probe", None, &probe, 0o4755)
            .finish();
        let desc = layout
            .image(
                &[
                    (fixture_layer().unwrap(), Compression::Gzip),
                    (suid, Compression::Gzip),
                ],
                "amd64",
                &["/bin/sh"],
            )
            .unwrap();
        layout.tag("security", &desc).unwrap();
        let image = format!("{}/busybox:security", registry.host());
        skopeo_push(&dir, "security", &image, false).unwrap();
        let s = Setup {
            registry,
            tmp,
            tag: format!(
                "t{}{}",
                std::process::id(),
                char::from(b'a' + (n % 26) as u8)
            ),
            image,
        };
        s.ch07(&["pull", "--insecure-registry", &s.registry.host(), &s.image])
            .expect_code(0);
        s
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// `ch07-security --root <root> ARGS...`, with the port and root hidden.
    pub fn ch07(&self, args: &[&str]) -> Outcome {
        self.program(BIN, args)
    }

    /// Another binary on the same state root (the previous chapter's).
    pub fn program(&self, bin: impl AsRef<Path>, args: &[&str]) -> Outcome {
        Scenario::new(bin)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env(TAG_VAR, &self.tag)
            // Names a network's resolver does not know go nowhere (chapter 5).
            .env(ch05_network::forward::UPSTREAM_VAR, "127.0.0.1:9")
            .replace(self.root().display().to_string(), "<root>")
            .replace(self.registry.host(), "127.0.0.1:PORT")
            .run()
    }

    /// `run --rm --network none [OPTIONS] IMAGE COMMAND...`.
    pub fn run(&self, options: &[&str], command: &[&str]) -> Outcome {
        let mut args = vec!["run", "--rm", "--network", "none", "--pull", "never"];
        args.extend(options);
        args.push(&self.image);
        args.extend(command);
        self.ch07(&args)
    }

    /// Mount points under the state root (none may outlive a run).
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

    pub fn containers(&self) -> usize {
        std::fs::read_dir(self.root().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// `ch07-security ARGS...` as `nobody` (uid and gid 65534) with `home` as
/// HOME, after moving into the cgroup whose `cgroup.procs` is `join` (as
/// root, before becoming nobody), if any. The transcript (`$ command`,
/// output, `--- stderr`, `--- exit: N`, registry hidden) and the exit code.
pub fn as_nobody(home: &Path, registry: &str, args: &[&str], join: Option<&Path>) -> (String, i32) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let join = join.map(|p| std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap());
    let mut command = std::process::Command::new(BIN);
    command
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME");
    // SAFETY: only system calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some(procs) = &join {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    let mut shown = format!("$ ch07-security {}\n", args.join(" "));
    shown.push_str(&String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.is_empty() {
        shown.push_str("--- stderr\n");
        shown.push_str(&stderr);
    }
    let code = out.status.code().unwrap_or(-1);
    shown.push_str(&format!("--- exit: {code}\n"));
    (shown.replace(registry, "127.0.0.1:PORT"), code)
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.root().join("containers")) {
            let ids: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !ids.is_empty() {
                let mut args = vec!["rm"];
                args.extend(ids.iter().map(String::as_str));
                let _ = self.ch07(&args);
            }
        }
        let ls = self.ch07(&["network", "ls"]);
        for line in ls.stdout.lines().skip(1) {
            if let Some(name) = line.split_whitespace().next() {
                let _ = self.ch07(&["network", "rm", name]);
            }
        }
    }
}

/// The transcript of several outcomes, as the book shows them.
pub fn transcript(outcomes: &[&Outcome]) -> String {
    outcomes.iter().map(|o| o.render()).collect()
}
