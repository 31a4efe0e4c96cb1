//! Hostile images: layers built to attack the host, served from a registry
//! on 127.0.0.1 and pulled through the `ch06-images` binary, as root (the
//! attacks matter only when the unpacker has root's power). Each test is
//! one class of attack from issue 12 and checks that the host is untouched.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lab::privileged::require_root;
use lab::registry::{
    Compression, Faults, HttpServer, LayerTar, Layout, fixture_layer, serve_layout, sha256,
};
use lab::scenario::Outcome;
use tar::EntryType;

const BIN: &str = env!("CARGO_BIN_EXE_ch06-images");

/// A temporary directory for one test (state root, layout, victims).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-ch06-")
        .tempdir()
        .unwrap()
}

/// Serves each (tag, uncompressed layer) as a one-layer gzip image.
fn serve(dir: &Path, images: &[(&str, &[u8])], faults: Faults) -> HttpServer {
    let mut layout = Layout::create(&dir.join("layout")).unwrap();
    for (tag, tar) in images {
        let desc = layout
            .image(&[(tar.to_vec(), Compression::Gzip)], "amd64", &["/bin/sh"])
            .unwrap();
        layout.tag(tag, &desc).unwrap();
    }
    serve_layout(&layout, faults).unwrap()
}

/// `ch06-images --root <root> ARGS...`, output as printed (digests too:
/// the messages must name the layer).
fn ch06(root: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    Outcome {
        command: format!("ch06-images --root {} {}", root.display(), args.join(" ")),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn pull(root: &Path, server: &HttpServer, tag: &str) -> Outcome {
    ch06(
        root,
        &["pull", "-q", &format!("{}/hostile:{tag}", server.host())],
    )
}

/// Where the store keeps the unpacked layer `tar`.
fn layer_dir(root: &Path, tar: &[u8]) -> PathBuf {
    root.join("layers/sha256")
        .join(&sha256(tar)["sha256:".len()..])
}

/// Every path under `dir`, relative.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
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

/// Mode, owner and mtime: what a metadata attack would change.
fn stamp(path: &Path) -> (u32, u32, u32, i64) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode(), m.uid(), m.gid(), m.mtime())
}

// ANCHOR: test_symlink_swap
/// Item 1: a directory's deferred chmod must not follow the symlink that
/// replaced it, nor may a hardlink to a symlink carry it out of the layer.
#[test]
fn deferred_metadata_never_goes_through_a_symlink() {
    if !require_root() {
        return;
    }
    let t = scratch();
    let victim = t.path().join("victim");
    fs::write(&victim, "host file\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
    let victim_dir = t.path().join("victim-dir");
    fs::create_dir(&victim_dir).unwrap();
    fs::set_permissions(&victim_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let before = (stamp(&victim), stamp(&victim_dir));
    let (v, vd) = (
        victim.display().to_string(),
        victim_dir.display().to_string(),
    );
    let tar = LayerTar::new()
        // A set-uid directory, then a symlink of the same name to a host file.
        .raw(EntryType::Directory, "d/", None, b"", 0o6777)
        .symlink("d", &v)
        // The same with a host directory.
        .raw(EntryType::Directory, "e/", None, b"", 0o777)
        .symlink("e", &vd)
        // A directory replaced by a hardlink to a symlink to the host file.
        .raw(EntryType::Directory, "f/", None, b"", 0o4777)
        .symlink("s", &v)
        .hardlink("f", "s")
        .finish();
    let server = serve(t.path(), &[("swap", &tar)], Faults::default());
    let root = t.path().join("state");
    pull(&root, &server, "swap").expect_code(0);
    assert_eq!(
        (stamp(&victim), stamp(&victim_dir)),
        before,
        "the layer changed host files' metadata"
    );
    let layer = layer_dir(&root, &tar);
    for (name, target) in [("d", &victim), ("e", &victim_dir), ("f", &victim)] {
        assert_eq!(fs::read_link(layer.join(name)).unwrap(), *target, "{name}");
    }
}
// ANCHOR_END: test_symlink_swap

/// Item 2: a layer whose blob does not match its digest is never unpacked,
/// not even into a private directory: inotify on the layer directory sees
/// nothing, and no blob is left under the digest.
#[test]
fn nothing_is_unpacked_before_the_blob_is_verified() {
    if !require_root() {
        return;
    }
    let t = scratch();
    let tar = LayerTar::new()
        .dir("etc")
        .file("etc/motd", b"unverified\n")
        .finish();
    let blob = sha256(&Compression::Gzip.compress(&tar));
    let server = serve(
        t.path(),
        &[("corrupt", &tar)],
        Faults {
            corrupt: vec![blob.clone()],
            ..Faults::default()
        },
    );
    let root = t.path().join("state");
    ch06(&root, &["images"]).expect_code(0);
    let watch = Watch::new(&root.join("layers/sha256"));
    let out = pull(&root, &server, "corrupt");
    out.expect_code(125);
    assert!(out.stderr.contains("digest mismatch"), "{}", out.render());
    assert!(out.stderr.contains(&blob), "{}", out.render());
    assert_eq!(
        watch.created(),
        Vec::<String>::new(),
        "the layer was unpacked before its digest was checked"
    );
    assert!(!root.join("blobs/sha256").join(&blob[7..]).exists());
    let left: Vec<_> = files(&root)
        .into_iter()
        .filter(|f| f.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Names created in one directory, seen through inotify.
struct Watch {
    fd: std::os::fd::OwnedFd,
}

impl Watch {
    fn new(dir: &Path) -> Watch {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain syscalls; the fd is owned from here on.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            fd >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: a valid fd and NUL-terminated path.
        let wd = unsafe {
            libc::inotify_add_watch(
                fd.as_raw_fd(),
                path.as_ptr(),
                libc::IN_CREATE | libc::IN_MOVED_TO,
            )
        };
        assert!(
            wd >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
        Watch { fd }
    }

    fn created(&self) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let mut names = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return names;
            }
            let mut at = 0;
            while at < n as usize {
                // SAFETY: the kernel wrote whole events; read_unaligned copes with alignment.
                let event: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
                let start = at + std::mem::size_of::<libc::inotify_event>();
                let name = &buf[start..start + event.len as usize];
                let name = name.split(|b| *b == 0).next().unwrap_or_default();
                names.push(String::from_utf8_lossy(name).into_owned());
                at = start + event.len as usize;
            }
        }
    }
}

/// Item 3: a whiteout must name an entry inside the layer; the rest are
/// refused by name, and nothing outside the layer is removed.
#[test]
fn whiteouts_must_name_an_entry_inside_the_layer() {
    if !require_root() {
        return;
    }
    let t = scratch();
    let good = LayerTar::new().file("keep.txt", b"kept\n").finish();
    let names = [
        ".wh...",
        ".wh.",
        ".wh..",
        "etc/.wh...",
        "etc/.wh..",
        ".wh..wh..",
        ".wh..wh.plnk",
        ".wh..wh..opq.x",
    ];
    let hostile: Vec<(String, Vec<u8>)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let tar = LayerTar::new()
                .dir("etc")
                .file("etc/a", format!("{i}\n").as_bytes())
                .file(name, b"")
                .finish();
            (format!("w{i}"), tar)
        })
        .collect();
    let mut images: Vec<(&str, &[u8])> = vec![("good", &good)];
    images.extend(hostile.iter().map(|(tag, tar)| (tag.as_str(), &tar[..])));
    let server = serve(t.path(), &images, Faults::default());
    let root = t.path().join("state");
    pull(&root, &server, "good").expect_code(0);
    let kept = layer_dir(&root, &good).join("keep.txt");
    let sentinel = t.path().join("sentinel");
    fs::write(&sentinel, "outside\n").unwrap();
    for (name, (tag, _)) in names.iter().zip(&hostile) {
        let out = pull(&root, &server, tag);
        out.expect_code(125);
        assert!(
            out.stderr.contains(&format!("invalid whiteout \"{name}\"")),
            "{name}: {}",
            out.render()
        );
        assert!(kept.is_file(), "{name}: another image's layer was removed");
        assert!(sentinel.is_file(), "{name}: a file outside the store went");
        assert!(
            files(&root).iter().all(|f| !f.contains(".tmp-")),
            "{name}: {:?}",
            files(&root)
        );
    }
    assert_eq!(
        files(&root.join("layers/sha256")).len(),
        2,
        "only the good layer (and its file) remain"
    );
}

fn xattr_names(path: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid path and buffer.
    let n = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n >= 0, "llistxattr: {}", std::io::Error::last_os_error());
    buf[..n as usize]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

/// Item 4: overlay's own attributes (opaque, redirect, metacopy, origin)
/// from a layer would change how overlay resolves paths: they are dropped.
/// Ordinary user attributes and file capabilities stay.
#[test]
fn overlay_xattrs_from_a_layer_are_dropped() {
    if !require_root() {
        return;
    }
    let t = scratch();
    let tar = LayerTar::new()
        .xattrs(&[
            ("trusted.overlay.opaque", b"y"),
            ("user.overlay.opaque", b"y"),
            ("user.berth", b"kept"),
        ])
        .dir("www")
        .xattrs(&[
            ("trusted.overlay.redirect", b"/etc"),
            ("trusted.overlay.metacopy", b""),
            ("trusted.overlay.origin", b"\x00\xfb"),
            ("trusted.berth", b"x"),
            ("security.selinux", b"system_u:object_r:shadow_t:s0"),
        ])
        .dir("www/etc")
        .finish();
    let server = serve(t.path(), &[("xattrs", &tar)], Faults::default());
    let root = t.path().join("state");
    pull(&root, &server, "xattrs").expect_code(0);
    let layer = layer_dir(&root, &tar);
    // tmpfs holds user.* attributes only from Linux 6.6 on (the lab VM's
    // /tmp on 6.1 does not): the kept one is expected where it can be kept.
    let kept = if user_xattrs_supported(t.path()) {
        vec!["user.berth"]
    } else {
        vec![]
    };
    assert_eq!(xattr_names(&layer.join("www")), kept);
    assert_eq!(xattr_names(&layer.join("www/etc")), Vec::<String>::new());
}

/// Whether the filesystem of `dir` takes `user.*` extended attributes.
fn user_xattrs_supported(dir: &Path) -> bool {
    let probe = dir.join("xattr-probe");
    fs::write(&probe, b"").unwrap();
    let supported =
        ch04_overlay::xattr::set(&probe, std::ffi::OsStr::new("user.probe"), b"1").is_ok();
    fs::remove_file(&probe).unwrap();
    supported
}

/// Item 5: the state root is private (0700), created so and repaired if an
/// older version left it open: a host user can neither run a set-uid root
/// binary from a layer nor open a device node in one. A run in a user
/// namespace opens it (0710) to its root's group only.
#[test]
fn the_state_root_is_private() {
    if !require_root() {
        return;
    }
    let t = scratch();
    // As /var/lib is: every user may traverse it.
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = t.path().join("state");
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let tar = LayerTar::new()
        .dir("bin")
        .raw(
            EntryType::Regular,
            "bin/suid-id",
            None,
            &fs::read("/usr/bin/id").unwrap(),
            0o4755,
        )
        .dir("dev")
        .device(EntryType::Char, "dev/null", 1, 3, 0o666)
        .finish();
    let busybox = fixture_layer().unwrap();
    let server = serve(
        t.path(),
        &[("suid", &tar), ("busybox", &busybox)],
        Faults::default(),
    );
    pull(&root, &server, "suid").expect_code(0);
    let layer = layer_dir(&root, &tar);
    // The layer really holds a set-uid root binary and a device: only the
    // state root's mode stands between them and a host user.
    let suid = fs::metadata(layer.join("bin/suid-id")).unwrap();
    assert_eq!((suid.mode() & 0o7777, suid.uid()), (0o4755, 0));
    assert_nobody_can_use(&layer);
    let fresh = t.path().join("fresh");
    ch06(&fresh, &["images"]).expect_code(0);
    for dir in [&root, &fresh] {
        let mode = fs::metadata(dir).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{}: mode {mode:o}", dir.display());
    }

    // A container in a user namespace starts as host uid/gid 100000 and
    // must reach its root filesystem: the root opens to that group only,
    // the image store stays closed.
    let image = format!("{}/hostile:busybox", server.host());
    let args = ["run", "--rm", "-q", "--userns", "--network", "none"];
    let run = ch06(&root, &[&args[..], &[&image, "/bin/true"]].concat());
    run.expect_code(0);
    let meta = fs::metadata(&root).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o710, 100000));
    for store in ["layers", "blobs"] {
        let mode = fs::metadata(root.join(store)).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{store}");
    }
    assert_nobody_can_use(&layer);
}

/// Runs the layer's set-uid binary and opens its device as `nobody`.
fn assert_nobody_can_use(layer: &Path) {
    let exec = Command::new(layer.join("bin/suid-id"))
        .uid(65534)
        .gid(65534)
        .output();
    match exec {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
        Ok(out) => panic!(
            "a host user ran the layer's set-uid binary: {}",
            String::from_utf8_lossy(&out.stdout)
        ),
    }
    let open = Command::new("/bin/cat")
        .arg(layer.join("dev/null"))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(
        !open.status.success(),
        "a host user opened the layer's device"
    );
    assert!(
        String::from_utf8_lossy(&open.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&open.stderr)
    );
}

/// A tmpfs of `size` mounted on `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size},mode=0700").as_str()),
        )
        .unwrap();
        Tmpfs(dir.to_path_buf())
    }

    fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.0).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Item 6: a gzip bomb (64 KiB that unpacks to 48 MiB) on a 16 MiB store
/// stops with a clear error and leaves no partial layer.
#[test]
fn a_layer_larger_than_free_space_stops_cleanly() {
    if !require_root() {
        return;
    }
    let t = scratch();
    let tar = LayerTar::new()
        .file("small.txt", b"fits\n")
        .file("zeros", &vec![0u8; 48 << 20])
        .finish();
    let blob = sha256(&Compression::Gzip.compress(&tar));
    let server = serve(t.path(), &[("bomb", &tar)], Faults::default());
    let root = t.path().join("state");
    let tmpfs = Tmpfs::mount(&root, "16m");
    let empty = tmpfs.free();
    let out = pull(&root, &server, "bomb");
    out.expect_code(125);
    assert!(
        out.stderr.contains("not enough disk space") && out.stderr.contains(&blob),
        "{}",
        out.render()
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.render());
    assert_eq!(files(&root.join("layers/sha256")), Vec::<String>::new());
    assert!(files(&root).iter().all(|f| !f.contains(".tmp-")));
    // Only the verified compressed blob stays.
    assert!(empty - tmpfs.free() < 1 << 20, "space was not given back");
    assert!(ch06(&root, &["images"]).stdout.lines().count() == 1);

    // A blob that cannot fit is not even downloaded.
    let mut noise = vec![0u8; 20 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for byte in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    let tar = LayerTar::new().file("noise", &noise).finish();
    let blob = sha256(&Compression::Gzip.compress(&tar));
    let server = serve(
        &t.path().join("noise"),
        &[("noise", &tar)],
        Faults::default(),
    );
    let out = pull(&root, &server, "noise");
    out.expect_code(125);
    assert!(
        out.stderr
            .contains(&format!("not enough disk space: the blob {blob} needs")),
        "{}",
        out.render()
    );
    assert!(files(&root).iter().all(|f| !f.contains(".tmp-")));
    assert!(empty - tmpfs.free() < 1 << 20, "space was not given back");
}
