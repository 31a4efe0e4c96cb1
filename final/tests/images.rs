//! The image commands through the `berth` binary: `images` (and its
//! filters and formats), `tag`, `rmi` (refused while a container uses the
//! image, `-f` untags), `image inspect`, `history`, `image prune`, a moved
//! tag leaving a dangling image; bad input. Each test has its own state
//! root and registry; its `Setup` removes what containers are left.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::Setup;
use lab::registry::{
    Compression, Layout, OCI_CONFIG, OCI_MANIFEST, fixture_layer, sha256, skopeo_push,
};
use lab::scenario::Outcome;
use serde_json::json;

/// `berth ARGS` under the suite's state, its output as printed (ids and
/// dates unmasked: these tests compare them), the registry's port hidden.
fn berth(s: &Setup, args: &[&str]) -> Outcome {
    berth_with_stdin(s, args, "")
}

fn berth_with_stdin(s: &Setup, args: &[&str], stdin: &str) -> Outcome {
    let mut child = s
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that does not read its stdin may have exited already.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&s.registry.host(), "127.0.0.1:PORT");
    Outcome {
        command: format!("berth {}", args.join(" ")),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The names in `images`, as `REPOSITORY:TAG` lines.
fn names(s: &Setup) -> Vec<String> {
    let out = berth(s, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    out.expect_code(0);
    out.stdout.lines().map(str::to_string).collect()
}

/// The distinct full image ids.
fn ids(s: &Setup, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["images", "-q", "--no-trunc"];
    args.extend(extra);
    let out = berth(s, &args);
    out.expect_code(0);
    out.stdout.lines().map(str::to_string).collect()
}

/// Files in the store's blob and layer directories.
fn store_files(s: &Setup) -> usize {
    ["blobs/sha256", "layers/sha256"]
        .iter()
        .map(|d| std::fs::read_dir(s.root().join(d)).map_or(0, |r| r.count()))
        .sum()
}

/// Pushes the fixture as `busybox:TAG` with a `created` date and a
/// two-step history (the layer, then a CMD that made none).
fn push_with_history(s: &Setup, dir: &Path, tag: &str) -> String {
    let mut layout = Layout::create(dir).unwrap();
    let tar = fixture_layer().unwrap();
    let layer = layout
        .blob(
            Compression::Gzip.media_type(),
            &Compression::Gzip.compress(&tar),
        )
        .unwrap();
    let config = json!({
        "created": "2024-03-01T10:20:30.5Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "MARK=new"],
            "Labels": {"team": "berth"}
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
        "history": [
            {"created": "2024-03-01T10:20:00Z",
             "created_by": "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / "},
            {"created": "2024-03-01T10:20:30.5Z",
             "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
        ]
    });
    let config = layout
        .blob(OCI_CONFIG, &serde_json::to_vec(&config).unwrap())
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.json(),
        "layers": [layer.json()],
    });
    let desc = layout
        .blob(OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap())
        .unwrap();
    layout.tag(tag, &desc).unwrap();
    let reference = format!("{}/busybox:{tag}", s.registry.host());
    skopeo_push(dir, tag, &reference, false).unwrap();
    reference
}

#[test]
fn images_lists_tags_and_rmi_untags() {
    let s = Setup::new();
    let out = berth(&s, &["images"]);
    out.expect_code(0);
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..2],
        ["127.0.0.1:PORT/busybox", "engine"],
        "{}",
        out.stdout
    );
    assert_eq!(row[2].len(), 12);
    assert!(row[2].bytes().all(|b| b.is_ascii_hexdigit()));
    // The fixture's config says no date.
    assert_eq!(row[3], "N/A");
    assert!(lines.next().is_none());

    let id = ids(&s, &[]);
    assert_eq!(id.len(), 1);
    assert!(id[0].starts_with("sha256:") && id[0].len() == 71, "{id:?}");
    assert!(id[0].contains(row[2]));

    // tag: a second name (Docker Hub's short form), the same id.
    berth(&s, &["tag", &s.image, "mybox:v1"]).expect_code(0);
    berth(&s, &["image", "tag", "mybox:v1", "mybox"]).expect_code(0);
    assert_eq!(
        names(&s),
        ["127.0.0.1:PORT/busybox:engine", "mybox:latest", "mybox:v1"]
    );
    assert_eq!(ids(&s, &[]), id, "three names, one image");
    let only = berth(
        &s,
        &["image", "ls", "mybox:v1", "--format", "{{.ID}} {{.Tag}}"],
    );
    only.expect_code(0);
    assert_eq!(only.stdout, format!("{} v1\n", row[2]));
    let digests = berth(&s, &["images", "--digests", "mybox"]);
    digests.expect_code(0);
    assert!(digests.stdout.starts_with("REPOSITORY"));
    assert!(digests.stdout.contains("DIGEST"));
    assert_eq!(
        digests.stdout.matches("sha256:").count(),
        2,
        "{}",
        digests.stdout
    );

    // inspect: Docker's fields.
    let os = berth(&s, &["image", "inspect", "--format", "{{.Os}}", "mybox:v1"]);
    os.expect_code(0);
    assert_eq!(os.stdout, "linux\n");
    // Plain `inspect` finds images too, when no container has the name.
    let os = berth(&s, &["inspect", "--format", "{{.Os}}", "mybox:v1"]);
    os.expect_code(0);
    assert_eq!(os.stdout, "linux\n");
    let inspect = berth(&s, &["image", "inspect", &id[0][7..19]]);
    inspect.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(v[0]["Id"], id[0].as_str());
    assert_eq!(v[0]["Architecture"], "amd64");
    assert_eq!(v[0]["Config"]["Cmd"], json!(["/bin/sh"]));
    assert_eq!(v[0]["RootFS"]["Type"], "layers");
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v[0]["RepoTags"].as_array().unwrap().len(), 3);
    assert!(
        v[0]["RepoDigests"][0]
            .as_str()
            .unwrap()
            .contains("/busybox@sha256:")
    );

    // rmi of one name: only untagged, the image stays.
    let rmi = berth(&s, &["rmi", "mybox:v1"]);
    rmi.expect_code(0);
    assert_eq!(rmi.stdout, "Untagged: mybox:v1\n");
    berth(&s, &["image", "rm", "mybox"]).expect_code(0);
    assert_eq!(names(&s), ["127.0.0.1:PORT/busybox:engine"]);
    berth(
        &s,
        &[
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "true",
        ],
    )
    .expect_code(0);

    // rmi by id: the last name, then the image and its layer.
    let rmi = berth(&s, &["rmi", &id[0][7..15]]);
    rmi.expect_code(0);
    assert!(
        rmi.stdout
            .starts_with("Untagged: 127.0.0.1:PORT/busybox:engine\n"),
        "{}",
        rmi.stdout
    );
    assert!(
        rmi.stdout.contains(&format!("Deleted: {}\n", id[0])),
        "{}",
        rmi.stdout
    );
    assert!(names(&s).is_empty());
    assert_eq!(store_files(&s), 0, "blobs or layers left");
}

#[test]
fn rmi_is_refused_while_a_container_uses_the_image() {
    let s = Setup::new();
    let create = berth(
        &s,
        &[
            "create",
            "--name",
            "user1",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "true",
        ],
    );
    create.expect_code(0);
    let files = store_files(&s);
    let refused = berth(&s, &["rmi", &s.image]);
    refused.expect_code(125);
    assert_eq!(refused.stdout, "");
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("container user1 uses it"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("berth rm user1"),
        "{}",
        refused.stderr
    );
    // Nothing changed.
    assert_eq!(names(&s), ["127.0.0.1:PORT/busybox:engine"]);
    assert_eq!(store_files(&s), files);
    // prune -a keeps it too: a container uses it.
    let prune = berth(&s, &["image", "prune", "-a", "-f"]);
    prune.expect_code(0);
    assert_eq!(prune.stdout, "Total reclaimed space: 0B\n");

    berth(&s, &["rm", "user1"]).expect_code(0);
    let rmi = berth(&s, &["rmi", &s.image]);
    rmi.expect_code(0);
    assert!(rmi.stdout.contains("Deleted: sha256:"), "{}", rmi.stdout);
    assert!(names(&s).is_empty());
    assert_eq!(store_files(&s), 0);

    // Bad input: one line, 125, what to do.
    let missing = berth(&s, &["rmi", "nope"]);
    missing.expect_code(125);
    assert_eq!(missing.stdout, "");
    assert_eq!(
        missing.stderr,
        "berth: No such image: nope:latest (berth images lists them, berth pull fetches one)\n"
    );
    let bad = berth(&s, &["tag", "nope", "Bad:Name"]);
    bad.expect_code(125);
    assert!(
        bad.stderr.starts_with("berth: No such image: nope:latest"),
        "{}",
        bad.stderr
    );
    let filter = berth(&s, &["images", "--filter", "dangling=maybe"]);
    filter.expect_code(125);
    assert!(
        filter
            .stderr
            .contains("use dangling=true or dangling=false"),
        "{}",
        filter.stderr
    );
    let inspect = berth(&s, &["image", "inspect", "nope"]);
    inspect.expect_code(1);
    assert_eq!(inspect.stdout, "[]\n");
    let inspect = berth(&s, &["inspect", "nope"]);
    inspect.expect_code(1);
    assert_eq!(inspect.stderr, "berth: No such object: nope\n");
}

#[test]
fn rmi_force_untags_and_prune_removes_dangling_images() {
    let s = Setup::new();
    berth(
        &s,
        &[
            "create",
            "--name",
            "keeper",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "true",
        ],
    )
    .expect_code(0);
    let id = ids(&s, &[]);
    // -f: the tag goes, the image stays (untagged) under the container.
    let forced = berth(&s, &["rmi", "-f", &s.image]);
    forced.expect_code(0);
    assert_eq!(forced.stdout, "Untagged: 127.0.0.1:PORT/busybox:engine\n");
    assert_eq!(names(&s), ["127.0.0.1:PORT/busybox:<none>"]);
    assert_eq!(ids(&s, &["--filter", "dangling=true"]), id);
    assert!(ids(&s, &["--filter", "dangling=false"]).is_empty());
    // The container still starts from it.
    let start = berth(&s, &["start", "-a", "keeper"]);
    start.expect_code(0);
    // Used: prune keeps it.
    let prune = berth(&s, &["image", "prune", "-f"]);
    prune.expect_code(0);
    assert_eq!(prune.stdout, "Total reclaimed space: 0B\n");
    berth(&s, &["rm", "keeper"]).expect_code(0);
    // Without -f prune asks; anything but y keeps everything.
    let asked = berth_with_stdin(&s, &["image", "prune"], "n\n");
    asked.expect_code(0);
    assert!(
        asked
            .stdout
            .starts_with("WARNING! This will remove all dangling images."),
        "{}",
        asked.stdout
    );
    assert_eq!(ids(&s, &[]), id);
    let pruned = berth_with_stdin(&s, &["image", "prune"], "y\n");
    pruned.expect_code(0);
    assert!(
        pruned
            .stdout
            .contains("Deleted Images:\nuntagged: 127.0.0.1:PORT/busybox@sha256:"),
        "{}",
        pruned.stdout
    );
    assert!(
        pruned.stdout.contains(&format!("deleted: {}\n", id[0])),
        "{}",
        pruned.stdout
    );
    assert!(
        !pruned.stdout.contains("Total reclaimed space: 0B"),
        "{}",
        pruned.stdout
    );
    assert!(names(&s).is_empty());
    assert_eq!(store_files(&s), 0);

    // prune -a: every image no container uses, tagged or not.
    berth(
        &s,
        &[
            "image",
            "pull",
            "-q",
            "--insecure-registry",
            &s.registry.host(),
            &s.image,
        ],
    )
    .expect_code(0);
    berth(&s, &["tag", &s.image, "other:1"]).expect_code(0);
    let kept = berth(&s, &["image", "prune", "-f"]);
    kept.expect_code(0);
    assert_eq!(
        kept.stdout, "Total reclaimed space: 0B\n",
        "tagged images are not dangling"
    );
    let all = berth(&s, &["image", "prune", "-a", "-f"]);
    all.expect_code(0);
    assert!(all.stdout.contains("untagged: other:1\n"), "{}", all.stdout);
    assert!(names(&s).is_empty());
    assert_eq!(store_files(&s), 0);
}

#[test]
fn history_created_and_a_moved_tag() {
    let s = Setup::new();
    let old = ids(&s, &[]);
    let mark = ["sh", "-c", "echo ${MARK:-old}"];
    let mut create = vec!["create", "--name", "before", "--pull", "never"];
    create.extend(["--network", "none", &s.image]);
    create.extend(mark);
    berth(&s, &create).expect_code(0);
    // The tag moves in the registry to an image with a date and history.
    let layout = s.tmp.path().join("history-layout");
    let moved = push_with_history(&s, &layout, "engine");
    assert_eq!(moved, s.image);
    berth(
        &s,
        &[
            "pull",
            "-q",
            "--insecure-registry",
            &s.registry.host(),
            &s.image,
        ],
    )
    .expect_code(0);
    // The old image stays, dangling, under its digest name.
    let dangling = berth(
        &s,
        &[
            "images",
            "--filter",
            "dangling=true",
            "--format",
            "{{.Repository}} {{.Tag}} {{.ID}}",
        ],
    );
    dangling.expect_code(0);
    assert_eq!(
        dangling.stdout,
        format!("127.0.0.1:PORT/busybox <none> {}\n", &old[0][7..19])
    );
    let new = ids(&s, &["--filter", "dangling=false"]);
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
    // The container made before starts from its own image (by id); a new
    // one from the tag's new image.
    let before = berth(&s, &["start", "-a", "before"]);
    before.expect_code(0);
    assert_eq!(before.stdout, "old\n");
    let mut run = vec![
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        &s.image,
    ];
    run.extend(mark);
    let after = berth(&s, &run);
    after.expect_code(0);
    assert_eq!(after.stdout, "new\n");
    // The container holds the dangling image: prune keeps it, rmi refuses.
    let prune = berth(&s, &["image", "prune", "-f"]);
    prune.expect_code(0);
    assert_eq!(prune.stdout, "Total reclaimed space: 0B\n");
    let refused = berth(&s, &["rmi", "-f", &old[0]]);
    refused.expect_code(125);
    assert!(refused.stderr.contains("no tag left"), "{}", refused.stderr);

    let created = berth(
        &s,
        &[
            "images",
            "--filter",
            "dangling=false",
            "--format",
            "{{.CreatedAt}}|{{.CreatedSince}}",
        ],
    );
    created.expect_code(0);
    let (at, since) = created.stdout.trim().split_once('|').unwrap();
    assert_eq!(at, "2024-03-01 10:20:30 +0000 UTC");
    assert!(since.ends_with(" ago") && !since.contains("day"), "{since}");
    let labelled = berth(&s, &["images", "-q", "--filter", "label=team=berth"]);
    labelled.expect_code(0);
    assert_eq!(labelled.stdout.lines().count(), 1);
    let inspect = berth(
        &s,
        &[
            "image",
            "inspect",
            "--format",
            "{{.Created}} {{json .Config.Labels}}",
            &s.image,
        ],
    );
    inspect.expect_code(0);
    assert_eq!(
        inspect.stdout,
        "2024-03-01T10:20:30.5Z {\"team\":\"berth\"}\n"
    );

    // history: newest first; the CMD step made no layer.
    let history = berth(&s, &["history", &s.image]);
    history.expect_code(0);
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", history.stdout);
    assert!(
        lines[0].starts_with("IMAGE")
            && lines[0].contains("CREATED BY")
            && lines[0].ends_with("COMMENT")
    );
    assert!(lines[1].starts_with(&new[0][7..19]), "{}", lines[1]);
    assert!(
        lines[1].contains("CMD [\"sh\"]") && lines[1].contains(" 0B"),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("<missing>"), "{}", lines[2]);
    assert!(
        lines[2].contains("…"),
        "45 characters, then an ellipsis: {}",
        lines[2]
    );
    let full = berth(
        &s,
        &[
            "image",
            "history",
            "--no-trunc",
            "--human=false",
            "--format",
            "{{.CreatedBy}}|{{.Size}}|{{.CreatedAt}}",
            &s.image,
        ],
    );
    full.expect_code(0);
    let rows: Vec<&str> = full.stdout.lines().collect();
    assert_eq!(
        rows[0],
        "/bin/sh -c #(nop)  CMD [\"sh\"]|0|2024-03-01T10:20:30.5Z"
    );
    let (by, rest) = rows[1].split_once('|').unwrap();
    assert_eq!(
        by,
        "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / "
    );
    assert_ne!(rest.split('|').next().unwrap(), "0", "the layer's size");
    let quiet = berth(&s, &["history", "-q", &s.image]);
    quiet.expect_code(0);
    assert_eq!(quiet.stdout, format!("{}\n<missing>\n", &new[0][7..19]));
    // An image without history: one line per layer.
    let plain = berth(&s, &["history", "-q", &old[0]]);
    plain.expect_code(0);
    assert_eq!(plain.stdout, format!("{}\n", &old[0][7..19]));
}
