//! Chapter 4 scenarios: the `ch04-overlay` binary as a user runs it, as
//! root, on a throwaway state root. Each snapshot is the output the book
//! shows for the command.

mod common;

use common::{TestRoot, checksum};
use lab::fixture;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_ch04-overlay");

/// `ch04-overlay --root <root> ARGS...`, the root shown as `<root>`.
fn ch04(root: &TestRoot, args: &[&str]) -> Outcome {
    let state = root.path().join("state");
    Scenario::new(BIN)
        .arg("--root")
        .arg(&state)
        .args(args)
        .replace(state.display().to_string(), "<root>")
        .replace(root.path().display().to_string(), "<tmp>")
        .replace(fixture::rootfs().display().to_string(), "<fixture>")
        .run()
}

fn fixture_arg() -> String {
    fixture::rootfs().display().to_string()
}

/// The directories under the state root's `containers/`.
fn container_dirs(root: &TestRoot) -> usize {
    std::fs::read_dir(root.path().join("state/containers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The acceptance: delete and add inside, list the changes, commit
/// them, and run on the committed layer; the fixture never changes.
#[test]
fn run_diff_commit_and_run_on_the_layer() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let before = checksum(&fixture::rootfs());
    let fx = fixture_arg();

    let run = ch04(
        &root,
        &[
            "run",
            "--name",
            "t",
            &fx,
            "sh",
            "-c",
            "rm /bin/ls; echo x > /new",
        ],
    );
    run.expect_code(0);
    assert_eq!(checksum(&fixture::rootfs()), before, "the fixture changed");
    assert!(root.mounts().is_empty(), "the root stayed mounted");

    let diff = ch04(&root, &["diff", "t"]);
    diff.expect_code(0);
    assert!(
        diff.stdout.lines().any(|l| l == "D /bin/ls"),
        "{}",
        diff.render()
    );
    assert!(
        diff.stdout.lines().any(|l| l == "A /new"),
        "{}",
        diff.render()
    );
    insta::assert_snapshot!("diff_after_run", diff.render());

    let layer = root.path().join("layer");
    let layer_arg = layer.display().to_string();
    ch04(&root, &["commit", "t", &layer_arg]).expect_code(0);
    assert!(layer.join("new").is_file());

    let on_layer = ch04(
        &root,
        &[
            "run",
            "--rm",
            "--lower",
            &layer_arg,
            &fx,
            "sh",
            "-c",
            "cat /new; ls /bin/ls || echo 'ls: gone'",
        ],
    );
    on_layer.expect_code(0);
    assert!(on_layer.stdout.starts_with("x\n"), "{}", on_layer.render());
    assert!(
        on_layer.stdout.contains("ls: gone"),
        "{}",
        on_layer.render()
    );
    insta::assert_snapshot!("run_on_the_committed_layer", on_layer.render());

    ch04(&root, &["rm", "t"]).expect_code(0);
    assert_eq!(container_dirs(&root), 0);
    assert_eq!(checksum(&fixture::rootfs()), before, "the fixture changed");
}

/// Kept containers are listed until removed; `--rm` ones never stay.
#[test]
fn ls_shows_kept_containers_and_rm_removes_them() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let fx = fixture_arg();
    ch04(&root, &["run", "--rm", &fx, "true"]).expect_code(0);
    assert_eq!(container_dirs(&root), 0, "--rm left its container");
    ch04(&root, &["run", "--name", "web", &fx, "true"]).expect_code(0);
    ch04(
        &root,
        &["run", "--name", "db", "--storage", "vfs", &fx, "true"],
    )
    .expect_code(0);

    let ls = ch04(&root, &["ls"]);
    ls.expect_code(0);
    let names: Vec<(&str, &str)> = ls
        .stdout
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[1], cols[2])
        })
        .collect();
    assert_eq!(names.len(), 2, "{}", ls.render());
    assert!(names.contains(&("web", "overlay")) && names.contains(&("db", "vfs")));

    let taken = ch04(&root, &["run", "--name", "web", &fx, "true"]);
    taken.expect_code(125);
    assert!(
        taken.stderr.contains("already in use"),
        "{}",
        taken.render()
    );

    let rm = ch04(&root, &["rm", "web", "db", "nosuch"]);
    assert_ne!(rm.code, 0);
    assert_eq!(rm.stdout, "web\ndb\n");
    assert_eq!(rm.stderr, "ch04-overlay: no such container: nosuch\n");
    assert_eq!(container_dirs(&root), 0);
}

/// A kept container whose record is damaged is never hidden nor swept:
/// `ls` lists it as unreadable and warns, a later run's sweep keeps it,
/// commands that need the record say how to remove it, and `rm` does.
#[test]
fn an_unreadable_record_is_reported_and_kept() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let fx = fixture_arg();
    ch04(
        &root,
        &[
            "run",
            "--name",
            "kept",
            &fx,
            "sh",
            "-c",
            "echo work > /work",
        ],
    )
    .expect_code(0);
    let dir = std::fs::read_dir(root.path().join("state/containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    let short = id[..12].to_string();
    // Half a record, as a crash or a full disk might leave it.
    std::fs::write(dir.join("config.json"), "{\"id\": \"").unwrap();

    let state = root.path().join("state");
    let step = |args: &[&str]| {
        Scenario::new(BIN)
            .arg("--root")
            .arg(&state)
            .args(args)
            .replace(state.display().to_string(), "<root>")
            .replace(fixture::rootfs().display().to_string(), "<fixture>")
            .replace(id.clone(), "<id>")
            .replace(short.clone(), "<id>")
            .run()
    };
    let ls = step(&["ls"]);
    ls.expect_code(0);
    assert!(ls.stdout.contains("<id>   (unreadable)"), "{}", ls.render());
    assert!(
        ls.stderr
            .contains("warning: container <id> is kept but unreadable"),
        "{}",
        ls.render()
    );
    // Another run sweeps the state root first: the container stays.
    step(&["run", "--rm", &fx, "true"]).expect_code(0);
    assert!(dir.join("upper/work").exists(), "the sweep removed it");
    let ls_again = step(&["ls"]);
    assert_eq!(ls_again.stdout, ls.stdout);
    let diff = step(&["diff", &short]);
    diff.expect_code(125);
    assert!(
        diff.stderr.contains("`rm <id>` removes it"),
        "{}",
        diff.render()
    );

    let rm = step(&["rm", &short]);
    rm.expect_code(0);
    assert_eq!(rm.stdout, "<id>\n");
    assert!(!dir.exists(), "rm left it");
    assert_eq!(container_dirs(&root), 0);
    assert!(root.mounts().is_empty());
    let transcript = [ls, diff, rm].map(|o| o.render()).concat();
    insta::assert_snapshot!("unreadable_record", transcript);
}

/// Chapter 4 keeps chapter 3: limits still apply to the container.
#[test]
fn limits_still_apply() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let out = ch04(
        &root,
        &[
            "run",
            "--rm",
            "-m",
            "64m",
            &fixture_arg(),
            "/probe",
            "limits",
        ],
    );
    out.expect_code(0);
    assert_eq!(
        out.value("limits.memory"),
        Some("67108864"),
        "{}",
        out.render()
    );
}

/// `--read-only`: writes fail inside, on both drivers.
#[test]
fn read_only_root_refuses_writes() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    for driver in ["overlay", "vfs"] {
        let out = ch04(
            &root,
            &[
                "run",
                "--rm",
                "--read-only",
                "--storage",
                driver,
                &fixture_arg(),
                "touch",
                "/x",
            ],
        );
        out.expect_code(1);
        assert_eq!(out.stderr, "touch: /x: Read-only file system\n", "{driver}");
    }
    assert_eq!(container_dirs(&root), 0);
}

/// The same changes give the same `diff` on both drivers.
#[test]
fn vfs_and_overlay_diff_alike() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let script = "rm /bin/ls; echo x > /new; echo changed >> /etc/hosts";
    let mut diffs = Vec::new();
    for driver in ["overlay", "vfs"] {
        let name = format!("on-{driver}");
        ch04(
            &root,
            &[
                "run",
                "--name",
                &name,
                "--storage",
                driver,
                &fixture_arg(),
                "sh",
                "-c",
                script,
            ],
        )
        .expect_code(0);
        let diff = ch04(&root, &["diff", &name]);
        diff.expect_code(0);
        diffs.push(diff.stdout.clone());
        ch04(&root, &["rm", &name]).expect_code(0);
    }
    assert_eq!(diffs[0], diffs[1]);
    assert!(diffs[0].contains("C /etc/hosts"), "{}", diffs[0]);
}

/// Bad input: one line, exit 125, and no container directory left.
#[test]
fn bad_input_is_refused_cleanly() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let fx = fixture_arg();
    let missing = root.path().join("missing").display().to_string();
    let existing = root.path().display().to_string();
    ch04(&root, &["run", "--name", "kept", &fx, "true"]).expect_code(0);
    let mut transcript = String::new();
    for args in [
        &["run", "--lower", &missing, &fx][..],
        &["run", "--name=-x", &fx],
        &["run", "--storage", "zfs", &fx],
        &["diff", "nosuch"],
        &["commit", "kept", &existing],
    ] {
        let out = ch04(&root, args);
        out.expect_code(125);
        transcript.push_str(&out.render());
    }
    assert_eq!(container_dirs(&root), 1, "only `kept` may exist");
    ch04(&root, &["rm", "kept"]).expect_code(0);
    insta::assert_snapshot!("bad_input", transcript);
}

/// The state root is private: a container (root, all capabilities) can make
/// a set-uid root copy of a shell in its upper directory, and the host's
/// other users must not be able to reach it. A more open root left by an
/// older version is repaired by the next command.
#[test]
fn a_containers_set_uid_files_are_out_of_host_users_reach() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    // As /var/lib is: every user may traverse it.
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(root.path(), open.clone()).unwrap();
    let state = root.path().join("state");
    std::fs::set_permissions(&state, open).unwrap();
    let fx = fixture_arg();
    let make = "cp /bin/busybox /suid-sh && chmod 4755 /suid-sh";
    ch04(&root, &["run", "--name", "s", &fx, "sh", "-c", make]).expect_code(0);
    let mode = std::fs::metadata(&state).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o700, "state root mode {mode:o}");
    // The file is there, set-uid root, in the container's upper directory.
    let found = std::process::Command::new("find")
        .arg(state.join("containers"))
        .args(["-name", "suid-sh", "-perm", "-4000", "-user", "root"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()
        .map(std::path::PathBuf::from)
        .expect("the container's set-uid file in its upper directory");
    let as_nobody = std::process::Command::new(&path)
        .args(["id", "-u"])
        .uid(65534)
        .gid(65534)
        .output();
    match as_nobody {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
        Ok(out) => panic!(
            "a host user ran the container's set-uid shell: euid {}",
            String::from_utf8_lossy(&out.stdout)
        ),
    }
    ch04(&root, &["rm", "s"]).expect_code(0);
}

/// Would the kernel idmap a mount of `dir`'s filesystem? Told from the
/// filesystem's type and the kernel's version (tmpfs learned it in 6.3),
/// not by asking chapter 4.
fn idmappable(dir: &std::path::Path) -> bool {
    use nix::sys::statfs::{
        BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC, statfs,
    };
    let kind = statfs(dir).unwrap().filesystem_type();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    match kind {
        EXT4_SUPER_MAGIC | XFS_SUPER_MAGIC | BTRFS_SUPER_MAGIC => version >= (5, 19),
        TMPFS_MAGIC => version >= (6, 3),
        _ => false,
    }
}

/// `--userns`: container root (host uid 100000) owns the image's files.
/// Where the filesystem takes idmapped mounts the layers are seen through
/// them, the container's writes keep host ids in the upper directory and
/// a commit shifts them back; elsewhere the layers are copied with
/// shifted owners, which diff and commit refuse to read.
#[test]
fn a_user_namespace_owns_the_image() {
    if !require_root() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let root = TestRoot::new();
    let fx = fixture_arg();
    let script = "stat -c 'owner %u:%g %n' / /bin/busybox; touch /new; \
                  mkdir /d; chown 1000:1000 /d; rm /bin/ls; stat -c 'owner %u:%g %n' /new /d";
    let run = ch04(
        &root,
        &["run", "--name", "u", "--userns", &fx, "sh", "-c", script],
    );
    run.expect_code(0);
    for line in [
        "owner 0:0 /",
        "owner 0:0 /bin/busybox",
        "owner 0:0 /new",
        "owner 1000:1000 /d",
    ] {
        assert!(
            run.stdout.contains(&format!("{line}\n")),
            "{line}: {}",
            run.render()
        );
    }
    let dir = std::fs::read_dir(root.path().join("state/containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let host_uid = |p: &str| std::fs::symlink_metadata(dir.join(p)).unwrap().uid();
    let idmapped = idmappable(&root.path().join("state"));
    let fell_back = run.stderr.contains("cannot be idmapped");
    assert_eq!(fell_back, !idmapped, "{}", run.render());
    let diff = ch04(&root, &["diff", "u"]);
    if idmapped {
        // The container's writes keep host ids; commit shifts them back.
        assert_eq!(
            (host_uid("upper/new"), host_uid("upper/d")),
            (100_000, 101_000)
        );
        diff.expect_code(0);
        for change in ["A /d", "A /new", "D /bin/ls"] {
            assert!(diff.stdout.contains(change), "{}", diff.render());
        }
        let layer = root.path().join("layer");
        ch04(&root, &["commit", "u", &layer.display().to_string()]).expect_code(0);
        let owner = |p: &str| {
            let m = std::fs::symlink_metadata(layer.join(p)).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!((owner("new"), owner("d")), ((0, 0), (1000, 1000)));
    } else {
        let shifted = (host_uid("merged/new"), host_uid("merged/bin/busybox"));
        assert_eq!(shifted, (100_000, 100_000));
        diff.expect_code(125);
        assert!(diff.stderr.contains("shifted"), "{}", diff.render());
    }
    ch04(&root, &["rm", "u"]).expect_code(0);
    assert!(root.mounts().is_empty(), "{:?}", root.mounts());
    assert_eq!(container_dirs(&root), 0);
}
