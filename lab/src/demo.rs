//! `cargo lab demo`: run the newest chapter on the fixture and say what is
//! isolated and what is not yet.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::registry::{self, Registry};
use crate::{chapters, fixture, paths, privileged, setup};

/// One thing a container may or may not have of its own.
struct Aspect {
    name: &'static str,
    /// Probe keys compared between host and container.
    keys: &'static [&'static str],
    /// Who provides it, for the "not yet" lines.
    provided_by: &'static str,
}

const ASPECTS: &[Aspect] = &[
    Aspect {
        name: "filesystem root",
        keys: &["root.id"],
        provided_by: "chapter 1: chroot",
    },
    Aspect {
        name: "process ids",
        keys: &["ns.pid"],
        provided_by: "chapter 2: pid namespace",
    },
    Aspect {
        name: "hostname",
        keys: &["ns.uts"],
        provided_by: "chapter 2: uts namespace",
    },
    Aspect {
        name: "mounts",
        keys: &["ns.mnt"],
        provided_by: "chapter 2: mount namespace + pivot_root",
    },
    Aspect {
        name: "network",
        keys: &["ns.net"],
        provided_by: "chapter 2: net namespace; chapter 5: veth + bridge",
    },
    Aspect {
        name: "IPC",
        keys: &["ns.ipc"],
        provided_by: "chapter 2: ipc namespace",
    },
    Aspect {
        name: "users",
        keys: &["ns.user"],
        provided_by: "chapter 2, off by default like Docker's: run --userns",
    },
    Aspect {
        name: "cgroup view",
        keys: &["ns.cgroup"],
        provided_by: "chapter 2: cgroup namespace",
    },
    Aspect {
        name: "clocks",
        keys: &["ns.time"],
        provided_by: "chapter 2: time namespace",
    },
    Aspect {
        name: "resource limits",
        keys: &[
            "cgroup.limit.memory.max",
            "cgroup.limit.memory/memory.limit_in_bytes",
        ],
        provided_by: "chapter 3: cgroups",
    },
];

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What the demo runs containers on: the fixture directory, or (chapter 6
/// on) an image pulled from a registry the demo starts on 127.0.0.1.
struct Target {
    /// The binary's global options (`--root <tmp>` for images).
    global: Vec<OsString>,
    /// berth's runtime directory (its monitors' sockets and sealed copy),
    /// in the demo's own directory so that nothing stays in /run/berth.
    run_dir: Option<PathBuf>,
    /// Environment for every command (chapter 5's network tag for images).
    env: Vec<(OsString, OsString)>,
    /// The ROOTFS or IMAGE argument of `run`.
    arg: OsString,
    /// How the transcript shows `arg`.
    shown: &'static str,
    /// The image's own files, to show they stayed unchanged.
    base: Option<PathBuf>,
    /// Stops the registry and removes the state root when dropped, so on
    /// every path out of the demo.
    _registry: Option<(Registry, tempfile::TempDir)>,
}

impl Target {
    fn fixture(rootfs: &Path) -> Target {
        Target {
            global: Vec::new(),
            run_dir: None,
            env: Vec::new(),
            arg: rootfs.as_os_str().to_owned(),
            shown: "<fixture>",
            base: Some(rootfs.to_path_buf()),
            _registry: None,
        }
    }

    /// Starts a registry, seeds it with the `layers` image (the fixture,
    /// plus layers that add, delete and replace files) and pulls it.
    fn image(bin: &Path) -> Result<Target> {
        let tmp = tempfile::Builder::new()
            .prefix("berth-registry-demo-")
            .tempdir()?;
        let registry = Registry::start()?;
        let reference = registry::seed_layers(&tmp.path().join("layout"), &registry)?;
        println!("a registry on {} serves {reference}", registry.host());
        let root = tmp.path().join("state");
        let global = vec![OsString::from("--root"), root.clone().into_os_string()];
        // A default network of the demo's own (bridge `berth-t<pid>z`,
        // chains `BERTHT<pid>Z-*`), removed when the demo ends.
        let env = vec![(
            OsString::from(&crate::sweep::constants()?.tag_var),
            OsString::from(format!("t{}z", std::process::id())),
        )];
        let target = Target {
            global,
            run_dir: Some(tmp.path().join("run")),
            env,
            arg: reference.clone().into(),
            shown: "<image>",
            base: None,
            _registry: Some((registry, tmp)),
        };
        println!("$ {} pull <image>", bin_name(bin));
        if !target
            .command(bin)
            .arg("pull")
            .arg(&reference)
            .status()?
            .success()
        {
            bail!("pulling {reference} failed");
        }
        println!();
        Ok(target)
    }

    /// `bin [--root ..]` with the target's environment.
    fn command(&self, bin: &Path) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(&self.global)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `berth [--root ..] [--run-dir ..]` with the target's environment.
    fn engine(&self, berth: &Path) -> Command {
        let mut cmd = self.command(berth);
        if let Some(dir) = &self.run_dir {
            cmd.arg("--run-dir").arg(dir);
        }
        cmd
    }

    /// `bin [--root ..] run <every_run> [options] <target> command...`
    fn run(&self, bin: &Path, options: &[&str], command: &[&str]) -> Command {
        let mut cmd = self.command(bin);
        cmd.arg("run")
            .args(chapters::newest().every_run)
            .args(options)
            .arg(&self.arg)
            .args(command);
        cmd
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // The image demo's default network (bridge and chains) goes before
        // its state root does; then the registry stops (field drop).
        // (`network rm` refuses the default network, as Docker's does: the
        // default network is taken down by chapter 5's sweeper.)
        if let Some((_, tmp)) = &self._registry {
            let tag = format!("t{}z", std::process::id());
            let _ = crate::sweep::remove_networks(&tmp.path().join("state"), Some(&tag));
        }
    }
}

fn bin_name(bin: &Path) -> String {
    bin.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `cargo lab demo`.
pub fn run() -> Result<()> {
    if !privileged::is_root() {
        bail!(
            "the demo starts containers and needs root: run `cargo lab demo` as root (the README shows the sudo form)"
        );
    }
    crate::apt::ensure(setup::PACKAGES, crate::apt::Source::Distribution)?;
    let chapter = chapters::newest();
    let status = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args(["build", "--quiet", "--package", chapter.package])
        .status()?;
    if !status.success() {
        bail!("building {} failed", chapter.package);
    }
    let rootfs = fixture::ensure()?;
    let bin = paths::workspace_bin(chapter.package);
    println!(
        "berth demo: chapter {} ({}), {}",
        chapter.number, chapter.package, chapter.mechanism
    );
    println!("fixture: {}", rootfs.display());
    println!();

    let target = if chapter.images {
        Target::image(&bin)?
    } else {
        Target::fixture(&rootfs)
    };
    show(&bin, &target, &["/bin/cat", "/etc/os-release"])?;
    show(
        &bin,
        &target,
        &[
            "/bin/sh",
            "-c",
            "echo \"inside: pid $$, $(ls / | wc -l) entries in /\"",
        ],
    )?;

    let host = parse(&output(&mut Command::new(rootfs.join("probe")))?);
    let inside = parse(&output(&mut target.run(
        &bin,
        chapter.demo_options,
        &["/probe"],
    ))?);
    if !chapter.demo_options.is_empty() {
        println!("(probed with `run {}`)", chapter.demo_options.join(" "));
    }
    println!("what the probe sees, inside versus on the host:");
    for aspect in ASPECTS {
        let differs = aspect
            .keys
            .iter()
            .any(|k| match (host.get(*k), inside.get(*k)) {
                (Some(h), Some(i)) => h != i,
                (None, Some(_)) => true,
                _ => false,
            });
        if differs {
            println!("  isolated  {:<16}", aspect.name);
        } else {
            println!("  not yet   {:<16} ({})", aspect.name, aspect.provided_by);
        }
    }
    if chapter.number >= 4 {
        show_copy_on_write(&bin, &target)?;
    }
    if chapter.images {
        println!();
        show(
            &bin,
            &target,
            &[
                "/bin/sh",
                "-c",
                "ls /etc/deleted.txt; cat /etc/kept.txt; ls /www",
            ],
        )?;
        println!(
            "layer 2 added /etc/deleted.txt, layer 3's whiteout deleted it and replaced /www (opaque): overlay stacked the image's layers"
        );
    }
    // Chapter 5 on: the container's network.
    if chapter.number >= 5 {
        println!();
        println!(
            "the container's own network: eth0 on the default bridge, routed through the host"
        );
        show(
            &bin,
            &target,
            &["/bin/sh", "-c", "ip -o -4 addr show eth0; ip route"],
        )?;
    }
    // Chapter 7 on: what root in the container can no longer do.
    if chapter.number >= 7 {
        println!();
        println!(
            "root in the container, with Docker's 14 capabilities and its seccomp profile, tries to get out:"
        );
        show(&bin, &target, &["/probe", "attack", "all"])?;
        println!(
            "every way out is blocked but the raw socket, which Docker's defaults allow too (--cap-drop NET_RAW stops it)"
        );
    }
    if chapter.images {
        show_engine(&target)?;
        show_service(&target)?;
    }
    println!();
    println!("and chapter 1's chroot escape:");
    show(&bin, &target, &["/chroot-escape"])?;
    let escape = parse(&output(&mut target.run(&bin, &[], &["/chroot-escape"]))?);
    let host_root = crate::host::HostView::current().root_id;
    if escape.get("after.root.id") == Some(&host_root) {
        println!(
            "the host's / is {host_root}: the process walked out (chapter 2's pivot_root closes this)"
        );
    } else {
        println!(
            "the host's / is {host_root}: the escape ended at the container's own root (pivot_root left nothing above it)"
        );
    }
    Ok(())
}

/// The engine the chapters add up to: a container that outlives the
/// command that started it, its log, exec, stop and rm.
fn show_engine(target: &Target) -> Result<()> {
    let status = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args(["build", "--quiet", "--package", "berth"])
        .status()?;
    if !status.success() {
        bail!("building berth failed");
    }
    let berth = paths::workspace_bin("berth");
    let port = registry::free_port()?;
    println!();
    println!("the engine, berth: one monitor per container, no daemon");
    let publish = format!("127.0.0.1:{port}:80");
    let web = "mkdir -p /srv && echo hello from berth > /srv/index.html && exec httpd -f -v -p 80 -h /srv";
    let steps: Vec<Vec<String>> = vec![
        vec![
            "run", "-d", "--name", "demo-web", "-p", &publish, "<image>", "sh", "-c", web,
        ],
        vec![
            "ps",
            "--format",
            "table {{.Names}}\t{{.Status}}\t{{.Ports}}",
        ],
        vec![
            "exec",
            "demo-web",
            "sh",
            "-c",
            "echo pid 1 is $(cat /proc/1/comm), hostname $(hostname)",
        ],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    let mut ok = true;
    for step in &steps {
        ok &= engine_step(&berth, target, step)?;
    }
    if ok {
        println!("$ fetch http://127.0.0.1:{port}/ (from the host, through the published port)");
        println!(
            "{}",
            fetch(port).unwrap_or_else(|e| format!("(no answer: {e})"))
        );
        println!();
    }
    for step in [
        vec!["logs", "demo-web"],
        vec!["stop", "-t", "1", "demo-web"],
        vec![
            "inspect",
            "--format",
            "exit code {{.State.ExitCode}} (httpd as pid 1 ignores SIGTERM: SIGKILL after the timeout)",
            "demo-web",
        ],
        vec!["rm", "-f", "demo-web"],
    ] {
        let step: Vec<String> = step.into_iter().map(String::from).collect();
        engine_step(&berth, target, &step)?;
    }
    Ok(())
}

/// Two containers as one service: a server that keeps its data in a named
/// volume, found by name on a network of their own; then the data outlives
/// its container.
fn show_service(target: &Target) -> Result<()> {
    let berth = paths::workspace_bin("berth");
    println!("a service: two containers on a network, talking by name; data in a volume");
    let serve = "echo stored in a volume > /srv/index.html && exec httpd -f -p 80 -h /srv";
    let steps: Vec<Vec<&str>> = vec![
        vec!["network", "create", "demo-app"],
        vec!["volume", "create", "demo-data"],
        vec![
            "run",
            "-d",
            "--name",
            "demo-db",
            "--network",
            "demo-app",
            "-v",
            "demo-data:/srv",
            "<image>",
            "sh",
            "-c",
            serve,
        ],
        vec![
            "run",
            "--rm",
            "--network",
            "demo-app",
            "<image>",
            "wget",
            "-qO-",
            "http://demo-db/",
        ],
        vec!["rm", "-f", "demo-db"],
        vec![
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "demo-data:/data",
            "<image>",
            "cat",
            "/data/index.html",
        ],
    ];
    let mut ok = true;
    for step in steps {
        if !ok {
            break;
        }
        let step: Vec<String> = step.into_iter().map(String::from).collect();
        ok &= engine_step(&berth, target, &step)?;
    }
    // Whatever happened above: nothing of it stays.
    for step in [
        vec!["rm", "-f", "demo-db"],
        vec!["volume", "rm", "demo-data"],
        vec!["network", "rm", "demo-app"],
    ] {
        let step: Vec<String> = step.into_iter().map(String::from).collect();
        quiet_step(&berth, target, &step)?;
    }
    Ok(())
}

/// A clean-up step: run, not shown (it may find nothing to remove).
fn quiet_step(berth: &Path, target: &Target, args: &[String]) -> Result<()> {
    target
        .engine(berth)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    Ok(())
}

fn engine_step(berth: &Path, target: &Target, args: &[String]) -> Result<bool> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| crate::scenario::shell_quote(a))
        .collect();
    println!("$ berth {}", shown.join(" "));
    let real: Vec<OsString> = args
        .iter()
        .map(|a| {
            if a == "<image>" {
                target.arg.clone()
            } else {
                a.into()
            }
        })
        .collect();
    let status = target.engine(berth).args(&real).status()?;
    if !status.success() {
        println!("(exit {})", status.code().unwrap_or(-1));
    }
    println!();
    Ok(status.success())
}

/// The first line and the body of `GET /` on 127.0.0.1:`port`.
fn fetch(port: u16) -> Result<String> {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut c) => {
                c.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                let mut text = String::new();
                c.read_to_string(&mut text)?;
                let status = text.lines().next().unwrap_or_default().to_string();
                let body = text
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Ok(format!("{status}\n{body}"));
            }
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Chapter 4 on: the container writes and deletes, its base stays whole.
fn show_copy_on_write(bin: &Path, target: &Target) -> Result<()> {
    println!();
    show(
        bin,
        target,
        &[
            "/bin/sh",
            "-c",
            "rm /bin/ls && echo hello > /demo-file && echo wrote /demo-file, deleted /bin/ls",
        ],
    )?;
    let intact = match &target.base {
        Some(rootfs) => {
            rootfs.join("bin/ls").symlink_metadata().is_ok() && !rootfs.join("demo-file").exists()
        }
        // An image: a new container sees the image as it was.
        None => target
            .run(
                bin,
                &[],
                &["/bin/sh", "-c", "test -e /bin/ls && test ! -e /demo-file"],
            )
            .status()?
            .success(),
    };
    let base = if target.base.is_some() {
        "the fixture"
    } else {
        "a new container of the image"
    };
    if intact {
        println!(
            "{base} still has /bin/ls and no /demo-file: the writes went to the container's own upper layer, removed with it (--rm)"
        );
    } else {
        println!("{base} changed: the root is not copy-on-write");
    }
    Ok(())
}

fn show(bin: &Path, target: &Target, command: &[&str]) -> Result<()> {
    let shown: Vec<String> = command
        .iter()
        .map(|a| crate::scenario::shell_quote(a))
        .collect();
    let mut options: String = chapters::newest()
        .every_run
        .iter()
        .map(|o| format!(" {o}"))
        .collect();
    options.push(' ');
    options.push_str(target.shown);
    println!("$ {} run{options} {}", bin_name(bin), shown.join(" "));
    let status = target.run(bin, &[], command).status()?;
    if !status.success() {
        println!("(exit {})", status.code().unwrap_or(-1));
    }
    println!();
    Ok(())
}
