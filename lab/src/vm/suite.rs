//! `cargo lab vm test`: build every test binary on the host, boot the VM
//! once, run them one after another inside as root (each from its
//! package's directory, as `cargo test` does), and add up the results.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::{MachineArgs, qemu, quote};
use crate::suite::Totals;
use crate::{fixture, paths, privileged};

/// One test binary cargo built.
#[derive(Debug, Clone)]
pub struct TestBinary {
    /// What `cargo test` would print after "Running", e.g. `tests/scenarios.rs`.
    pub name: String,
    pub package: String,
    pub executable: PathBuf,
    /// The package directory: the binary's working directory.
    pub manifest_dir: PathBuf,
}

/// Printed by the guest script before and after each binary.
const BEGIN: &str = "BERTH-LAB-BEGIN ";
const END: &str = "BERTH-LAB-END ";

/// Runs the suite in the VM and prints `N passed, N failed` last. The
/// failures count binaries that crashed and a script that did not finish.
pub fn run(machine: &qemu::Machine, packages: &[String], test_args: &[String]) -> Result<Totals> {
    let started = Instant::now();
    super::packages::qemu()?;
    let binaries = build_tests(packages)?;
    if binaries.is_empty() {
        bail!("cargo built no test binaries");
    }
    // The fixture needs cargo, which the guest does not have: build it here.
    let rootfs = fixture::ensure()?;
    println!("fixture: {}", rootfs.display());
    let shares = super::shares()?;
    for binary in &binaries {
        if !super::is_shared(&binary.executable, &shares) {
            bail!(
                "{} is outside the directories shared with the VM",
                binary.executable.display()
            );
        }
    }
    let script = script(&binaries, test_args);
    let executables: Vec<PathBuf> = binaries.iter().map(|b| b.executable.clone()).collect();

    let mut totals = Totals::default();
    let mut current: Option<(String, Totals)> = None;
    let mut broken = Vec::new();
    let mut first_test = None;
    let outcome = super::boot_script(machine, &script, &executables, |line, since_boot| {
        if let Some(name) = line.strip_prefix(BEGIN) {
            first_test.get_or_insert(since_boot);
            current = Some((name.to_string(), Totals::default()));
            return qemu::Echo::Hide;
        }
        if let Some(rest) = line.strip_prefix(END) {
            let (status, name) = rest.split_once(' ').unwrap_or((rest, ""));
            let seen = current.take().map(|(_, t)| t).unwrap_or_default();
            if status != "0" && seen.failed == 0 {
                // It crashed, or failed before libtest could count.
                broken.push(format!("{name} (exit status {status})"));
            }
            return qemu::Echo::Hide;
        }
        totals.add_line(line);
        if let Some((_, t)) = current.as_mut() {
            t.add_line(line);
        }
        qemu::Echo::Show
    })?;
    let mut failed = totals.failed;
    for name in &broken {
        println!("lab vm: {name} failed without a test result line");
        failed += 1;
    }
    if let Some(boot) = outcome.boot_time {
        println!(
            "lab vm: guest ready {:.1} s and first test {:.1} s after starting QEMU; whole run {:.1} s",
            boot.as_secs_f64(),
            first_test.unwrap_or_default().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    if outcome.status != Some(0) && failed == 0 {
        println!("lab vm: the test script exited with {:?}", outcome.status);
        failed += 1;
    }
    println!("{} passed, {} failed", totals.passed, failed);
    Ok(Totals {
        passed: totals.passed,
        failed,
    })
}

/// Set to 1 to leave the VM out of `cargo lab test` (an explicit opt-out; CI never sets it).
pub const SKIP_VAR: &str = "BERTH_SKIP_VM";

// ANCHOR: after_host
/// `cargo lab test`'s second half: the whole suite again, in the VM, with
/// the default machine. `None` when the person opted out with `BERTH_SKIP_VM=1`.
pub fn after_host_suite() -> Result<Option<Totals>> {
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
        println!("lab vm: skipped ({SKIP_VAR}=1 is set)");
        return Ok(None);
    }
    println!("\n=== the same suite in the lab VM (pure cgroup v2)");
    run(&MachineArgs::default().to_machine(), &[], &[]).map(Some)
}
// ANCHOR_END: after_host

/// `cargo test --no-run`, returning the test binaries it built.
pub fn build_tests(packages: &[String]) -> Result<Vec<TestBinary>> {
    let mut cmd = Command::new(paths::cargo());
    cmd.current_dir(paths::workspace()).args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if packages.is_empty() {
        cmd.arg("--workspace");
    }
    for package in packages {
        cmd.args(["--package", package]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test --no-run")?;
    let stdout = child.stdout.take().context("cargo has no stdout")?;
    let mut binaries = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        if let Some(binary) = parse_artifact(&line?) {
            binaries.insert(binary.executable.clone(), binary);
        }
    }
    if !child.wait()?.success() {
        bail!("building the tests failed (see cargo's messages above)");
    }
    Ok(binaries
        .into_values()
        .filter(|b| {
            !HOST_ONLY
                .iter()
                .any(|(package, name)| b.package == *package && b.name == *name)
        })
        .collect())
}

/// Test binaries that need what the guest does not have: a compiler (they
/// build a scratch crate with cargo), or real daemons (containerd, dockerd,
/// which drive berth-runtime: the host tier). They run in the host's suite
/// (every `cargo lab test` runs it first) and are left out of the VM's, by
/// name.
pub const HOST_ONLY: &[(&str, &str)] = &[
    ("lab", "tests/verify.rs"),
    ("lab", "tests/broken_chapter.rs"),
    ("berth", "tests/containerd.rs"),
    ("berth", "tests/dockerd.rs"),
];

/// A test binary from one line of cargo's JSON messages.
fn parse_artifact(line: &str) -> Option<TestBinary> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" || msg["profile"]["test"] != true {
        return None;
    }
    let executable = PathBuf::from(msg["executable"].as_str()?);
    let manifest_dir = PathBuf::from(msg["manifest_path"].as_str()?)
        .parent()?
        .to_path_buf();
    let src = PathBuf::from(msg["target"]["src_path"].as_str()?);
    let name = src
        .strip_prefix(&manifest_dir)
        .unwrap_or(&src)
        .display()
        .to_string();
    let package = package_name(msg["package_id"].as_str()?)?;
    Some(TestBinary {
        name,
        package,
        executable,
        manifest_dir,
    })
}

/// The package name in a cargo package id (`path+file:///w/lab#0.1.0`,
/// `path+file:///w/chapters/01-chroot#ch01-chroot@0.1.0`).
fn package_name(id: &str) -> Option<String> {
    let (url, fragment) = id.rsplit_once('#')?;
    match fragment.split_once('@') {
        Some((name, _)) => Some(name.to_string()),
        None => url.rsplit('/').next().map(str::to_string),
    }
}

/// The bash script the guest runs: every binary, in order, as root.
fn script(binaries: &[TestBinary], test_args: &[String]) -> String {
    let mut s = String::from("# written by `cargo lab vm test`\n");
    let mut env = vec![
        ("BERTH_PREBUILT_FIXTURE".to_string(), "1".to_string()),
        (
            "INSTA_WORKSPACE_ROOT".into(),
            paths::workspace().display().to_string(),
        ),
        ("INSTA_UPDATE".into(), "no".into()),
        ("RUST_BACKTRACE".into(), "1".into()),
    ];
    for passed in ["CARGO_TARGET_DIR", "CI", "RUST_LOG"] {
        if let Ok(value) = std::env::var(passed) {
            env.push((passed.into(), value));
        }
    }
    for (name, value) in &env {
        s.push_str(&format!("export {name}={}\n", quote(value)));
    }
    // Never opt out of privileged tests in the VM: everything runs as root.
    s.push_str(&format!("unset {}\n", privileged::SKIP_VAR));
    s.push_str("status=0\n");
    let args: Vec<String> = test_args.iter().map(|a| quote(a)).collect();
    for b in binaries {
        let label = format!("{} ({})", b.name, b.package);
        s.push_str(&format!(
            "echo {begin}{label_q}\necho; echo \"     Running {name} ({exe})\"\n\
             (cd {dir} && CARGO_MANIFEST_DIR={dir} CARGO_PKG_NAME={pkg} {exe} {args})\n\
             rc=$?; [ $rc = 0 ] || status=1\necho \"{end}$rc\" {label_q}\n",
            begin = quote(BEGIN),
            end = END,
            label_q = quote(&label),
            name = b.name,
            exe = quote(&b.executable.display().to_string()),
            dir = quote(&b.manifest_dir.display().to_string()),
            pkg = quote(&b.package),
            args = args.join(" "),
        ));
    }
    s.push_str("exit $status\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_test_artifacts_only() {
        let test = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/chapters/01-chroot#ch01-chroot@0.1.0","manifest_path":"/w/chapters/01-chroot/Cargo.toml","target":{"name":"scenarios","src_path":"/w/chapters/01-chroot/tests/scenarios.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/scenarios-1"}"#;
        let lib = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/lab#0.1.0","manifest_path":"/w/lab/Cargo.toml","target":{"name":"lab","src_path":"/w/lab/src/lib.rs"},"profile":{"test":false},"executable":null}"#;
        let b = parse_artifact(test).unwrap();
        assert_eq!(b.name, "tests/scenarios.rs");
        assert_eq!(b.manifest_dir, PathBuf::from("/w/chapters/01-chroot"));
        assert_eq!(b.package, "ch01-chroot");
        assert_eq!(package_name("path+file:///w/lab#0.1.0").unwrap(), "lab");
        assert!(parse_artifact(lib).is_none());
        assert!(parse_artifact("not json").is_none());
    }
}
