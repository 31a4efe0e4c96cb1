//! Volumes, bind mounts and tmpfs through the `berth` binary: data that
//! outlives containers, copy-up from the image, read-only mounts, targets
//! that stay inside the container's root, `volume rm` refused while used,
//! `rm -v`, the local driver's tmpfs and bind volumes, an image's
//! `VOLUME`s, and bad input that makes nothing.

mod common;

use common::Setup;
use lab::registry::{Compression, LayerTar, Layout, fixture_layer, skopeo_push};
use serde_json::json;

/// `run --rm --pull never --network none OPTIONS IMAGE COMMAND...`.
fn run(s: &Setup, options: &[&str], image: &str, command: &[&str]) -> lab::scenario::Outcome {
    let mut args = vec!["run", "--rm", "--pull", "never", "--network", "none"];
    args.extend(options);
    args.push(image);
    args.extend(command);
    s.berth(&args)
}

/// `volume ls -q`, raw (the scenario hides 64-hex names).
fn volume_names(s: &Setup) -> Vec<String> {
    let out = s.command(&["volume", "ls", "-q"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// An image made from the fixture by running `script` and committing.
fn image_from(s: &Setup, name: &str, script: &str) -> String {
    let maker = format!("{name}-maker");
    run_named(s, &maker, script);
    let image = format!("{name}:1");
    s.berth(&["commit", &maker, &image]).expect_code(0);
    s.berth(&["rm", &maker]).expect_code(0);
    image
}

fn run_named(s: &Setup, name: &str, script: &str) {
    let out = s.berth(&[
        "run",
        "--pull",
        "never",
        "--network",
        "none",
        "--name",
        name,
        &s.image,
        "sh",
        "-c",
        script,
    ]);
    out.expect_code(0);
}

#[test]
fn a_named_volume_is_filled_from_the_image_and_outlives_containers() {
    let s = Setup::new();
    let image = image_from(
        &s,
        "seeded",
        "mkdir /seed && echo image > /seed/f && chown 1234:4321 /seed/f && chmod 640 /seed/f",
    );
    // First use: copy-up, owners and modes kept; then a write of its own.
    let out = run(
        &s,
        &["-v", "data:/seed"],
        &image,
        &[
            "sh",
            "-c",
            "stat -c '%u %g %a' /seed/f; cat /seed/f; echo new > /seed/g",
        ],
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "1234 4321 640\nimage\n");
    // The container is gone (--rm); a new one, of another image, sees the data.
    let out = run(
        &s,
        &["--mount", "source=data,target=/d"],
        &s.image,
        &["cat", "/d/g", "/d/f"],
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "new\nimage\n");
    assert_eq!(volume_names(&s), ["data"]);
    let mountpoint = s.berth(&["volume", "inspect", "--format", "{{.Mountpoint}}", "data"]);
    assert_eq!(mountpoint.stdout, "<root>/volumes/data/_data\n");
    let df = s.berth(&["system", "df"]);
    let line = df
        .stdout
        .lines()
        .find(|l| l.starts_with("Local Volumes"))
        .unwrap()
        .to_string();
    assert_eq!(line.split_whitespace().nth(2), Some("1"), "{line}");
    s.berth(&["volume", "rm", "data"]).expect_code(0);
    assert!(volume_names(&s).is_empty());
    assert!(s.mounts().is_empty());
}

#[test]
fn binds_read_only_mounts_and_tmpfs() {
    let s = Setup::new();
    let host = s.tmp.path().join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "hello\n").unwrap();
    let ro = format!("{}:/h:ro", host.display());
    let out = run(
        &s,
        &["-v", &ro],
        &s.image,
        &["sh", "-c", "cat /h/file; touch /h/x"],
    );
    assert_ne!(out.code, 0);
    assert_eq!(out.stdout, "hello\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!host.join("x").exists());
    // Read-write: the container's write reaches the host.
    let rw = format!("{}:/h", host.display());
    run(&s, &["-v", &rw], &s.image, &["touch", "/h/x"]).expect_code(0);
    assert!(host.join("x").exists());
    // -v makes a missing host directory, as Docker does.
    let made = s.tmp.path().join("made/here");
    let v = format!("{}:/m", made.display());
    run(&s, &["-v", &v], &s.image, &["true"]).expect_code(0);
    assert!(made.is_dir());
    // A named volume that is a host directory (the local driver's bind).
    let device = format!("device={}", host.display());
    let create = [
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "named-host",
    ];
    s.berth(&create).expect_code(0);
    let out = run(&s, &["-v", "named-host:/n"], &s.image, &["cat", "/n/file"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "hello\n");
    s.berth(&["volume", "rm", "named-host"]).expect_code(0);
    assert!(host.join("file").exists(), "the device is the host's: kept");
    // tmpfs, with its options.
    let out = run(
        &s,
        &[
            "--tmpfs",
            "/scratch:size=1m",
            "--mount",
            "type=tmpfs,target=/t2",
        ],
        &s.image,
        &[
            "sh",
            "-c",
            "grep -E ' /(scratch|t2) ' /proc/mounts | cut -d' ' -f1-3",
        ],
    );
    out.expect_code(0);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["tmpfs /scratch tmpfs", "tmpfs /t2 tmpfs"]);
    assert!(s.mounts().is_empty());
}

#[test]
fn a_hostile_target_stays_inside_the_root() {
    let s = Setup::new();
    let source = s.tmp.path().join("source");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("file"), "mine\n").unwrap();
    // A host directory an image's link points at.
    let victim = s.tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let image = image_from(
        &s,
        "hostile",
        &format!(
            "ln -s {} /evil && ln -s ../../../../../../../../{} /rel",
            victim.display(),
            victim.display()
        ),
    );
    let opts = [
        "-v".to_string(),
        format!("{}:/evil/abs", source.display()),
        "-v".to_string(),
        format!("{}:/rel/rel", source.display()),
        "--mount".to_string(),
        format!(
            "type=bind,source={},target=/bin/../../../..{}/dots",
            source.display(),
            victim.display()
        ),
    ];
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let inside = format!("{}", victim.display());
    let out = run(
        &s,
        &opts,
        &image,
        &[
            "sh",
            "-c",
            &format!("cat /evil/abs/file /rel/rel/file {inside}/dots/file; ls {inside}"),
        ],
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "mine\nmine\nmine\nabs\ndots\nrel\n");
    // The host's directory is as it was: nothing created, nothing mounted.
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    assert!(s.mounts().is_empty());
}

#[test]
fn a_used_volume_is_kept_and_rm_v_removes_anonymous_ones() {
    let s = Setup::new();
    s.berth(&[
        "create", "--pull", "never", "--name", "holder", "-v", "keep:/k", "-v", "/anon", &s.image,
        "true",
    ])
    .expect_code(0);
    let names = volume_names(&s);
    assert_eq!(names.len(), 2, "{names:?}");
    let anonymous = names.iter().find(|n| *n != "keep").unwrap().clone();
    assert_eq!(anonymous.len(), 64, "{anonymous}");
    assert!(anonymous.bytes().all(|b| b.is_ascii_hexdigit()));
    let refused = s.berth(&["volume", "rm", "keep"]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("in use by holder"),
        "{}",
        refused.stderr
    );
    let dangling = s.berth(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.stdout, "");
    // Another container mounts holder's volumes, read-only here.
    let out = run(
        &s,
        &["--volumes-from", "holder:ro"],
        &s.image,
        &["sh", "-c", "echo x > /k/f; grep -c ' /anon ' /proc/mounts"],
    );
    assert_eq!(out.stdout, "1\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    let mounts = s.inspect("holder", "{{json .Mounts}}");
    assert!(mounts.contains(r#""Destination":"/k""#), "{mounts}");
    assert!(mounts.contains(r#""Name":"keep""#), "{mounts}");
    s.berth(&["rm", "-v", "holder"]).expect_code(0);
    assert_eq!(volume_names(&s), ["keep"]);
    let dangling = s.berth(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.stdout, "keep\n");
    s.berth(&["volume", "rm", "keep"]).expect_code(0);
    assert!(volume_names(&s).is_empty());
}

#[test]
fn bad_mounts_are_refused_before_anything_is_made() {
    let s = Setup::new();
    let missing = s.tmp.path().join("no/such/dir");
    let spec = format!("type=bind,source={},target=/x", missing.display());
    for options in [
        vec!["--mount", spec.as_str()],
        vec!["-v", "bad name:/x"],
        vec!["-v", "data:relative"],
        vec!["--mount", "type=nfs,target=/x"],
        vec!["-v", "named:/x", "-v", "/host:/x"],
    ] {
        let out = run(&s, &options, &s.image, &["true"]);
        out.expect_code(125);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    assert!(!missing.exists());
    assert_eq!(s.containers(), 0);
    assert!(volume_names(&s).is_empty());
}

#[test]
fn a_tmpfs_volume_is_new_at_each_mount() {
    let s = Setup::new();
    let create = [
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=64m,uid=1000",
        "scratch",
    ];
    s.berth(&create).expect_code(0);
    let options = s.berth(&[
        "volume",
        "inspect",
        "--format",
        "{{json .Options}}",
        "scratch",
    ]);
    assert_eq!(
        options.stdout,
        "{\"device\":\"tmpfs\",\"o\":\"size=64m,uid=1000\",\"type\":\"tmpfs\"}\n"
    );
    let id = "tmpfs-user";
    s.run_detached(
        &["--network", "none", "--name", id, "-v", "scratch:/s"],
        &[
            "sh",
            "-c",
            "grep ' /s ' /proc/mounts | cut -d' ' -f1-4; stat -c %u /s; cat /s/f 2>/dev/null || echo empty; echo x > /s/f; sleep 1000",
        ],
    );
    // The mount: a tmpfs of 64 MiB (65536 KiB) owned by uid 1000.
    let first = wait_for_log_lines(&s, id, 3);
    assert!(
        first.starts_with("tmpfs /s tmpfs rw,nosuid,nodev,"),
        "{first}"
    );
    assert!(first.contains("size=65536k"), "{first}");
    assert!(first.contains("uid=1000"), "{first}");
    assert!(first.ends_with("\n1000\nempty\n"), "{first}");
    // A restart mounts a new tmpfs: the file written before is gone.
    s.berth(&["restart", "-t", "0", id]).expect_code(0);
    let both = wait_for_log_lines(&s, id, 6);
    let lines: Vec<&str> = both.lines().collect();
    assert_eq!(lines.len(), 6, "{both}");
    assert_eq!(lines[3..], [lines[0], "1000", "empty"], "{both}");
    // Nothing on the host: the volume's directory stays empty.
    let data = s.root().join("volumes/scratch/_data");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    let refused = s.berth(&["volume", "rm", "scratch"]);
    refused.expect_code(1);
    s.berth(&["rm", "-f", id]).expect_code(0);
    s.berth(&["volume", "rm", "scratch"]).expect_code(0);
    assert!(volume_names(&s).is_empty());
    assert!(s.mounts().is_empty());
}

/// The container's log once it has `lines` lines (or what it has after
/// a minute, for the assertion to show).
fn wait_for_log_lines(s: &Setup, id: &str, lines: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = s.command(&["logs", id]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() >= lines || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_bind_volume_shows_its_host_directory() {
    let s = Setup::new();
    let host = s.tmp.path().join("device");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("file"), "from the host\n").unwrap();
    let device = format!("device={}", host.display());
    let create = [
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &device,
        "hostdir",
    ];
    s.berth(&create).expect_code(0);
    let options = s.berth(&[
        "volume",
        "inspect",
        "--format",
        "{{.Options.type}} {{.Options.o}}",
        "hostdir",
    ]);
    assert_eq!(options.stdout, "none bind\n");
    let out = run(
        &s,
        &["-v", "hostdir:/h"],
        &s.image,
        &["sh", "-c", "cat /h/file; echo back > /h/new"],
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "from the host\n");
    assert_eq!(std::fs::read_to_string(host.join("new")).unwrap(), "back\n");
    // The device gone: a clear error at create, nothing made.
    std::fs::remove_dir_all(&host).unwrap();
    let out = run(&s, &["-v", "hostdir:/h"], &s.image, &["true"]);
    out.expect_code(125);
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
    assert_eq!(s.containers(), 0);
    s.berth(&["volume", "rm", "hostdir"]).expect_code(0);
    assert!(s.mounts().is_empty());
}

#[test]
fn bad_volume_options_are_refused_before_anything_is_made() {
    let s = Setup::new();
    let missing = s.tmp.path().join("no/such/dir");
    let device = format!("device={}", missing.display());
    for options in [
        vec!["-o", "type=tmpfs", "-o", "color=blue"],
        vec!["-o", "type=nfs", "-o", "device=:/export"],
        vec!["-o", "type=tmpfs", "-o", "o=size=1m,exec"],
        vec!["-o", "type=none", "-o", "o=bind", "-o", &device],
        vec!["-o", "o=bind"],
    ] {
        let mut args = vec!["volume", "create"];
        args.extend(options);
        args.push("bad");
        let out = s.berth(&args);
        out.expect_code(125);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    assert!(!missing.exists());
    assert!(volume_names(&s).is_empty());
    assert!(!s.root().join("volumes/bad").exists());
}

/// Pushes and pulls an image of the fixture whose config says
/// `VOLUME /data` and whose layer fills /data.
fn image_with_volume(s: &Setup) -> String {
    let dir = s.tmp.path().join("volume-layout");
    let mut layout = Layout::create(&dir).unwrap();
    let data = LayerTar::new()
        .dir("data")
        .file("data/seed", b"from the image\n")
        .finish();
    let config = json!({
        "Cmd": ["sh"],
        "Env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
        "Volumes": {"/data": {}},
    });
    let layers = [
        (fixture_layer().unwrap(), Compression::Gzip),
        (data, Compression::Gzip),
    ];
    let desc = layout.image_config(&layers, "amd64", config).unwrap();
    layout.tag("volume", &desc).unwrap();
    let image = format!("{}/busybox:volume", s.registry.host());
    skopeo_push(&dir, "volume", &image, false).unwrap();
    s.berth(&["pull", "--insecure-registry", &s.registry.host(), &image])
        .expect_code(0);
    image
}

#[test]
fn an_image_volume_becomes_an_anonymous_volume() {
    let s = Setup::new();
    let image = image_with_volume(&s);
    s.berth(&["create", "--pull", "never", "--name", "app", &image, "true"])
        .expect_code(0);
    let names = volume_names(&s);
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(names[0].len(), 64, "{names:?}");
    let out = s
        .command(&["inspect", "--format", "{{json .Mounts}}", "app"])
        .output();
    let mounts = String::from_utf8(out.unwrap().stdout).unwrap();
    assert!(mounts.contains(r#""Destination":"/data""#), "{mounts}");
    assert!(
        mounts.contains(&format!(r#""Name":"{}""#, names[0])),
        "{mounts}"
    );
    // Filled from the image at the first start (copy-up).
    s.berth(&["start", "-a", "app"]).expect_code(0);
    let data = s.root().join("volumes").join(&names[0]).join("_data/seed");
    assert_eq!(std::fs::read_to_string(data).unwrap(), "from the image\n");
    s.berth(&["rm", "-v", "app"]).expect_code(0);
    assert!(volume_names(&s).is_empty());
    // A path the user mounts is theirs: no anonymous volume there.
    let out = run(&s, &["-v", "mine:/data"], &image, &["cat", "/data/seed"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "from the image\n");
    assert_eq!(volume_names(&s), ["mine"]);
    let out = run(&s, &["--tmpfs", "/data"], &image, &["ls", "/data"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "");
    assert_eq!(volume_names(&s), ["mine"]);
    // `--rm` takes the image's anonymous volume along.
    let out = run(&s, &[], &image, &["cat", "/data/seed"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "from the image\n");
    assert_eq!(volume_names(&s), ["mine"]);
    s.berth(&["volume", "rm", "mine"]).expect_code(0);
    assert!(s.mounts().is_empty());
}
