//! Pulling real images from a real registry (Debian's docker-registry on
//! 127.0.0.1, seeded with skopeo from OCI layouts built from the busybox
//! fixture), and from a test server that misbehaves on purpose.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use ch06_images::pull::{PullOptions, Pulled, pull};
use ch06_images::reference::Reference;
use ch06_images::registry;
use ch06_images::store::{Store, render_images};
use ch06_images::{Error, platform::Platform, progress::Progress};
use lab::registry::{
    Compression, Faults, LayerTar, Layout, Registry, serve_blobs, serve_layout, skopeo_digest,
    skopeo_push, token_proxy,
};

struct Fixture {
    _tmp: tempfile::TempDir,
    store: Store,
    layouts: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("berth-ch06-")
        .tempdir()
        .unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let layouts = tmp.path().join("layouts");
    Fixture {
        store,
        layouts,
        _tmp: tmp,
    }
}

/// The busybox fixture as one layer.
fn base_layer() -> Vec<u8> {
    LayerTar::new()
        .tree(&lab::fixture::rootfs())
        .unwrap()
        .finish()
}

fn pull_ref(store: &Store, reference: &str) -> Result<Pulled, Error> {
    pull_with(store, reference, PullOptions::default())
}

fn pull_with(store: &Store, reference: &str, options: PullOptions) -> Result<Pulled, Error> {
    pull(
        store,
        &Reference::parse(reference)?,
        &options,
        &Progress::Hidden,
    )
}

/// Every file under `dir`, relative (to check what a failure left behind).
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Asserts a failed pull left no reference, no temporary file, no layer
/// directory, and only blobs whose content matches their name.
fn assert_store_clean(store: &Store) {
    assert!(store.images().unwrap().is_empty(), "a reference was left");
    let root = store.root();
    for name in files(root) {
        assert!(!name.contains(".tmp-"), "temporary file left: {name}");
    }
    assert!(
        files(&root.join("layers/sha256")).is_empty(),
        "a layer was left"
    );
    for name in files(&root.join("blobs/sha256")) {
        let bytes = fs::read(root.join("blobs/sha256").join(&name)).unwrap();
        assert_eq!(
            lab::registry::sha256(&bytes),
            format!("sha256:{name}"),
            "corrupt blob"
        );
    }
}

/// A layout with the images most tests use, pushed to `registry`.
fn seed(f: &Fixture, registry: &Registry) -> Layout {
    let mut layout = Layout::create(&f.layouts).unwrap();
    let base = base_layer();
    let single = layout
        .image(&[(base.clone(), Compression::Gzip)], "amd64", &["/bin/sh"])
        .unwrap();
    layout.tag("single", &single).unwrap();
    // Layer 2 adds files; layer 3 deletes one (whiteout) and replaces /www
    // (opaque directory); layer 4 is uncompressed.
    let layers = lab::registry::layers_image(&mut layout, &base).unwrap();
    layout.tag("layers", &layers).unwrap();
    let zstd = layout
        .image(
            &[(
                LayerTar::new()
                    .tree(&lab::fixture::rootfs())
                    .unwrap()
                    .file("zstd.txt", b"zstd\n")
                    .finish(),
                Compression::Zstd,
            )],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag("zstd", &zstd).unwrap();
    let arm = layout
        .image(
            &[(
                LayerTar::new().file("arch.txt", b"arm64\n").finish(),
                Compression::Gzip,
            )],
            "arm64",
            &["/bin/sh"],
        )
        .unwrap();
    let amd = layout
        .image(
            &[(
                LayerTar::new().file("arch.txt", b"amd64\n").finish(),
                Compression::Gzip,
            )],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    let index = layout.index(&[(arm, "arm64"), (amd, "amd64")]).unwrap();
    layout.tag("multi", &index).unwrap();
    for tag in ["single", "layers", "zstd"] {
        skopeo_push(
            &f.layouts,
            tag,
            &format!("{}/busybox:{tag}", registry.host()),
            false,
        )
        .unwrap();
    }
    skopeo_push(
        &f.layouts,
        "multi",
        &format!("{}/busybox:multi", registry.host()),
        true,
    )
    .unwrap();
    layout
}

#[test]
fn pulls_a_single_layer_image() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let reference = format!("{}/busybox:single", registry.host());
    let pulled = pull_ref(&f.store, &reference).unwrap();
    assert_eq!(pulled.layers.len(), 1);
    assert_eq!(pulled.reused, 0);
    // skopeo, an independent client, agrees on the digest.
    assert_eq!(
        pulled.digest.to_string(),
        skopeo_digest(&reference).unwrap()
    );
    let layer = &pulled.layers[0];
    let rootfs = lab::fixture::rootfs();
    assert_eq!(
        fs::read(layer.join("bin/busybox")).unwrap(),
        fs::read(rootfs.join("bin/busybox")).unwrap()
    );
    assert_eq!(
        fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let tmp = fs::metadata(layer.join("tmp")).unwrap();
    assert_eq!(tmp.mode() & 0o7777, 0o1777);
    assert_eq!(tmp.mtime() as u64, lab::registry::LAYER_MTIME);
    assert_eq!(
        fs::metadata(layer.join("probe")).unwrap().mode() & 0o777,
        0o755
    );
    // A repeated pull reuses everything.
    let again = pull_ref(&f.store, &reference).unwrap();
    assert_eq!(again.reused, 1);
    assert_eq!(again.manifest_digest, pulled.manifest_digest);
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let pulled = pull_ref(&f.store, &format!("{}/busybox:layers", registry.host())).unwrap();
    assert_eq!(pulled.layers.len(), 4);
    let deleting = &pulled.layers[2];
    let whiteout = fs::symlink_metadata(deleting.join("etc/deleted.txt")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0, "a whiteout is the 0/0 character device");
    assert!(!deleting.join("etc/.wh.deleted.txt").exists());
    assert_eq!(
        xattr(&deleting.join("www"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!deleting.join("www/.wh..wh..opq").exists());

    // Stack the layers as overlay lowers (top first) and look.
    let mnt = tempfile::tempdir().unwrap();
    let lowers: Vec<String> = pulled
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    nix::mount::mount(
        Some("overlay"),
        mnt.path(),
        Some("overlay"),
        nix::mount::MsFlags::MS_RDONLY,
        Some(format!("lowerdir={}", lowers.join(":")).as_str()),
    )
    .unwrap();
    let seen = (
        mnt.path().join("etc/deleted.txt").exists(),
        fs::read_to_string(mnt.path().join("etc/kept.txt")).ok(),
        mnt.path().join("www/index.html").exists(),
        fs::read_to_string(mnt.path().join("www/new.html")).ok(),
        fs::read_to_string(mnt.path().join("layer4.txt")).ok(),
        mnt.path().join("bin/busybox").exists(),
    );
    nix::mount::umount(mnt.path()).unwrap();
    assert!(!seen.0, "the whiteout hides etc/deleted.txt");
    assert_eq!(seen.1.as_deref(), Some("still here\n"));
    assert!(
        !seen.2,
        "the opaque directory hides the fixture's www/index.html"
    );
    assert_eq!(seen.3.as_deref(), Some("new page\n"));
    assert_eq!(seen.4.as_deref(), Some("uncompressed\n"));
    assert!(seen.5);
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: valid C strings and buffer.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

#[test]
fn picks_the_platform_from_an_index() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let reference = format!("{}/busybox:multi", registry.host());
    let amd = pull_ref(&f.store, &reference).unwrap();
    assert_eq!(
        fs::read_to_string(amd.layers[0].join("arch.txt")).unwrap(),
        "amd64\n"
    );
    assert_eq!(amd.digest.to_string(), skopeo_digest(&reference).unwrap());
    let arm = pull_with(
        &f.store,
        &reference,
        PullOptions {
            platform: Platform::parse("linux/arm64").unwrap(),
            ..PullOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(arm.layers[0].join("arch.txt")).unwrap(),
        "arm64\n"
    );
    assert_eq!(arm.config.architecture, "arm64");
    let e = pull_with(
        &f.store,
        &reference,
        PullOptions {
            platform: Platform::parse("linux/s390x").unwrap(),
            ..PullOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        e.message.contains("no matching manifest for linux/s390x"),
        "{e}"
    );
}

#[test]
fn pulls_a_zstd_layer() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let pulled = pull_ref(&f.store, &format!("{}/busybox:zstd", registry.host())).unwrap();
    assert_eq!(
        fs::read_to_string(pulled.layers[0].join("zstd.txt")).unwrap(),
        "zstd\n"
    );
    assert!(pulled.layers[0].join("bin/busybox").is_file());
}

#[test]
fn bearer_token_flow() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let proxy = token_proxy(registry.port, Some(("alice", "s3cret"))).unwrap();
    let reference = format!("{}/busybox:single", proxy.host());
    // Without credentials the token service refuses.
    let e = pull_ref(&f.store, &reference).unwrap_err();
    assert!(e.message.contains("token request"), "{e}");
    assert_store_clean(&f.store);
    let with = |user: &str, password: &str| PullOptions {
        registry: registry::Options {
            credentials: Some(ch06_images::auth::Credentials {
                username: user.into(),
                password: password.into(),
            }),
            ..registry::Options::default()
        },
        ..PullOptions::default()
    };
    assert!(pull_with(&f.store, &reference, with("alice", "wrong")).is_err());
    let pulled = pull_with(&f.store, &reference, with("alice", "s3cret")).unwrap();
    assert_eq!(pulled.layers.len(), 1);
    let seen = proxy.seen();
    let token = seen
        .iter()
        .find(|r| {
            r.path.starts_with("/token")
                && r.header("authorization") == Some("Basic YWxpY2U6czNjcmV0")
        })
        .expect("a token request with alice's credentials");
    assert!(
        token.path.contains("scope=repository:busybox:pull"),
        "{}",
        token.path
    );
    assert!(seen.iter().any(|r| {
        r.path.contains("/manifests/single")
            && r.header("authorization")
                .is_some_and(|a| a.starts_with("Bearer "))
    }));
}

#[test]
fn redirected_blobs_get_no_token() {
    let f = fixture();
    let mut layout = Layout::create(&f.layouts).unwrap();
    let image = layout
        .image(
            &[(
                LayerTar::new().file("hello.txt", b"hi\n").finish(),
                Compression::Gzip,
            )],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag("v1", &image).unwrap();
    let storage = serve_blobs(&layout).unwrap();
    let registry = serve_layout(
        &layout,
        Faults {
            redirect_blobs_to: Some(storage.port),
            ..Faults::default()
        },
    )
    .unwrap();
    let proxy = token_proxy(registry.port, None).unwrap();
    let pulled = pull_ref(&f.store, &format!("{}/app:v1", proxy.host())).unwrap();
    assert_eq!(
        fs::read_to_string(pulled.layers[0].join("hello.txt")).unwrap(),
        "hi\n"
    );
    let blobs = storage.seen();
    assert_eq!(
        blobs.len(),
        2,
        "config and layer fetched from the storage host"
    );
    assert!(
        blobs.iter().all(|r| r.header("authorization").is_none()),
        "token leaked"
    );
    assert!(
        proxy
            .seen()
            .iter()
            .any(|r| r.path.contains("/blobs/") && r.header("authorization").is_some())
    );
}

#[test]
fn a_corrupted_blob_is_refused() {
    let f = fixture();
    let mut layout = Layout::create(&f.layouts).unwrap();
    let image = layout
        .image(
            &[(
                LayerTar::new().file("hello.txt", b"hi\n").finish(),
                Compression::Gzip,
            )],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag("v1", &image).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&image.digest).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let server = serve_layout(
        &layout,
        Faults {
            corrupt: vec![layer.clone()],
            ..Faults::default()
        },
    )
    .unwrap();
    let e = pull_ref(&f.store, &format!("{}/app:v1", server.host())).unwrap_err();
    assert_eq!(e.code, 125);
    assert!(e.message.contains("digest mismatch"), "{e}");
    assert!(e.message.contains(&layer), "{e}");
    assert_store_clean(&f.store);
}

#[test]
fn an_interrupted_pull_resumes() {
    let f = fixture();
    let mut layout = Layout::create(&f.layouts).unwrap();
    let first = LayerTar::new()
        .file("one.txt", &vec![b'1'; 200_000])
        .finish();
    let second = LayerTar::new()
        .file("two.txt", &vec![b'2'; 200_000])
        .finish();
    let image = layout
        .image(
            &[(first, Compression::None), (second, Compression::None)],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag("v1", &image).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&image.digest).unwrap()).unwrap();
    let cut = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let server = serve_layout(
        &layout,
        Faults {
            cut_once: vec![cut],
            ..Faults::default()
        },
    )
    .unwrap();
    let reference = format!("{}/app:v1", server.host());
    let e = pull_ref(&f.store, &reference).unwrap_err();
    assert_eq!(e.code, 125);
    assert!(f.store.images().unwrap().is_empty());
    assert!(
        files(f.store.root()).iter().all(|n| !n.contains(".tmp-")),
        "{:?}",
        files(f.store.root())
    );
    let pulled = pull_ref(&f.store, &reference).unwrap();
    assert_eq!(
        fs::read(pulled.layers[1].join("two.txt")).unwrap().len(),
        200_000
    );
    // The first layer was complete and verified: the second pull reused it.
    assert_eq!(pulled.reused, 1);
}

#[test]
fn unsafe_layers_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("pwned");
    let t = target.display().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "dotdot",
            LayerTar::new()
                .file("../../../../../../../../tmp/berth-pwned", b"x")
                .finish(),
        ),
        ("absolute", LayerTar::new().file(&t, b"x").finish()),
        (
            "absolute symlink",
            LayerTar::new()
                .symlink("out", &outside.path().display().to_string())
                .file("out/pwned", b"x")
                .finish(),
        ),
        (
            "hardlink outside",
            LayerTar::new().hardlink("passwd", "/etc/passwd").finish(),
        ),
        (
            "hardlink dotdot",
            LayerTar::new()
                .hardlink("passwd", "../../../../etc/passwd")
                .finish(),
        ),
    ];
    for (what, tar) in cases {
        let f = fixture();
        let mut layout = Layout::create(&f.layouts).unwrap();
        let image = layout
            .image(&[(tar, Compression::Gzip)], "amd64", &["/bin/sh"])
            .unwrap();
        layout.tag("evil", &image).unwrap();
        let server = serve_layout(&layout, Faults::default()).unwrap();
        let e = pull_ref(&f.store, &format!("{}/app:evil", server.host())).expect_err(what);
        assert_eq!(e.code, 125, "{what}");
        assert!(
            e.message.contains("unsafe path") || e.message.contains("not a file in the layer"),
            "{what}: {e}"
        );
        assert!(!target.exists(), "{what} wrote outside");
        assert!(
            !Path::new("/tmp/berth-pwned").exists(),
            "{what} wrote outside"
        );
        // The blob itself verified, so it may stay; nothing else may.
        assert!(f.store.images().unwrap().is_empty(), "{what}");
        assert!(
            files(&f.store.root().join("layers/sha256")).is_empty(),
            "{what}"
        );
    }
}

#[test]
fn an_unknown_media_type_is_refused() {
    let f = fixture();
    let mut layout = Layout::create(&f.layouts).unwrap();
    let image = layout
        .image_with(
            &[(LayerTar::new().file("a", b"a").finish(), Compression::Gzip)],
            "amd64",
            &["/bin/sh"],
            Some("application/vnd.example.mystery"),
        )
        .unwrap();
    layout.tag("odd", &image).unwrap();
    let server = serve_layout(&layout, Faults::default()).unwrap();
    let e = pull_ref(&f.store, &format!("{}/app:odd", server.host())).unwrap_err();
    assert!(
        e.message
            .contains("unsupported layer media type \"application/vnd.example.mystery\""),
        "{e}"
    );
    assert!(
        server.seen().iter().all(|r| !r.path.contains("/blobs/")),
        "nothing downloaded"
    );
    assert_store_clean(&f.store);
}

#[test]
fn an_unknown_tag_is_not_found() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let e = pull_ref(&f.store, &format!("{}/busybox:nope", registry.host())).unwrap_err();
    assert_eq!(e.code, 125);
    assert!(e.message.contains("not found"), "{e}");
    assert_store_clean(&f.store);
    let out = Command::new(env!("CARGO_BIN_EXE_ch06-images"))
        .arg("--root")
        .arg(f.store.root())
        .args(["pull", "-q", &format!("{}/busybox:nope", registry.host())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ch06-images: manifest for 127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("busybox:nope not found"), "{stderr}");
}

/// Replaces the port and digests so snapshots hold still.
fn normalise(text: &str, port: u16) -> String {
    let mut out = text.replace(&port.to_string(), "PORT");
    while let Some(i) = out.find("sha256:") {
        let end = i
            + 7
            + out[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
        out.replace_range(i..end, "SHA256");
    }
    let out = out.replace("SHA256", "sha256:<digest>");
    // Sizes follow the fixture's binaries.
    out.lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, size)) if size.ends_with("MB") || size.ends_with("kB") => {
                format!("{head} <size>\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

fn cli(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ch06-images"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    // Layers finish in any order: their progress lines are sorted, and
    // named by position-free placeholders (their digests follow the fixture).
    let mut progress: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| match l.split_once(": ") {
            Some((id, status)) if id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()) => {
                format!("<layer>: {status}")
            }
            _ => l.to_string(),
        })
        .collect();
    progress.sort();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in progress {
        text.push_str(&line);
        text.push('\n');
    }
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn cli_pull_images_rmi() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let root = f.store.root();
    let host = registry.host();
    let mut transcript = String::new();
    for args in [
        vec!["pull".to_string(), format!("{host}/busybox:single")],
        vec!["pull".to_string(), format!("{host}/busybox:layers")],
        vec!["images".to_string()],
        vec!["rmi".to_string(), format!("{host}/busybox:layers")],
        vec!["images".to_string()],
        vec!["rmi".to_string(), format!("{host}/busybox:single")],
        vec!["rmi".to_string(), format!("{host}/busybox:single")],
    ] {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let (code, text) = cli(root, &args);
        transcript.push_str(&format!(
            "$ ch06-images {}\n{text}[exit {code}]\n",
            args.join(" ")
        ));
    }
    let transcript = normalise(&transcript, registry.port);
    // The facts, besides the snapshot: the shared base layer survived the
    // first rmi and everything was gone after the second.
    assert!(transcript.contains("Status: Downloaded image for 127.0.0.1:PORT/busybox:layers"));
    assert_eq!(
        transcript.matches("Deleted layer").count(),
        4,
        "{transcript}"
    );
    assert!(
        transcript
            .ends_with("ch06-images: No such image: 127.0.0.1:PORT/busybox:single\n[exit 125]\n"),
        "{transcript}"
    );
    assert!(files(&root.join("blobs/sha256")).is_empty());
    assert!(files(&root.join("layers/sha256")).is_empty());
    insta::assert_snapshot!("cli_pull_images_rmi", transcript);
    let _ = render_images(&[]);
}

#[test]
fn shared_layers_survive_rmi() {
    if !lab::privileged::require_root() {
        return;
    }
    let registry = Registry::start().unwrap();
    let f = fixture();
    seed(&f, &registry);
    let single = pull_ref(&f.store, &format!("{}/busybox:single", registry.host())).unwrap();
    let layers = pull_ref(&f.store, &format!("{}/busybox:layers", registry.host())).unwrap();
    assert_eq!(layers.reused, 1, "the base layer is shared");
    assert_eq!(single.layers[0], layers.layers[0]);
    let removed = f.store.remove(&layers.name).unwrap();
    assert_eq!(removed.layers.len(), 3);
    assert!(single.layers[0].is_dir());
    assert!(f.store.image(&single.name).is_ok());
    f.store.remove(&single.name).unwrap();
    assert!(files(&f.store.root().join("blobs/sha256")).is_empty());
    assert!(files(&f.store.root().join("layers/sha256")).is_empty());
}
