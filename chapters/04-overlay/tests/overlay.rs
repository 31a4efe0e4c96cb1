//! Chapter 4's privileged tests: real overlay mounts on temporary state
//! roots, with the busybox fixture as the read-only lower layer.
//!
//! The snapshots are the outputs the book shows; the exercises name these
//! tests as their checks.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use ch04_overlay::diff::render;
use ch04_overlay::options::{MountPlan, plan};
use ch04_overlay::store::table;
use ch04_overlay::whiteout::is_opaque;
use ch04_overlay::{Kind, Spec, Storage, state, sweep, xattr};
use common::{TestRoot, checksum, sh, try_sh, view};
use lab::fixture;
use lab::privileged::require_root;

/// What the container does in the diff and commit tests: add, change,
/// delete, and replace a directory (which makes it opaque).
const CHANGES: &str = "echo hello > /etc/motd; echo '10.0.0.1 db' >> /etc/hosts; \
     rm /etc/passwd; rm -r /www; mkdir /www; echo new > /www/new.html; \
     mkdir -p /data/logs; touch /data/logs/app.log";

/// Exercise 1 (`mount_options`): the container writes and deletes freely,
/// and not one byte of the lower layer changes.
#[test]
fn writes_never_reach_the_lower() {
    if !require_root() {
        return;
    }
    let before = checksum(&fixture::rootfs());
    let root = TestRoot::new();
    let c = root.create(Storage::Overlay, &[]);
    let mounted = c.mount().unwrap();
    assert!(c.is_mounted());
    let merged = c.rootfs();
    let transcript = sh(&merged, CHANGES)
        + &sh(
            &merged,
            "chmod 600 /etc/hosts; rm -rf /usr/sbin; cat /etc/motd; ls /www",
        )
        + &sh(&merged, "truncate -s 4096 /probe; wc -c < /probe");
    mounted.unmount().unwrap();
    assert!(!c.is_mounted());
    assert_eq!(
        checksum(&fixture::rootfs()),
        before,
        "the lower layer changed"
    );
    // The writes are in the upper directory, the deletions are whiteouts.
    let upper = c.upper();
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/motd")).unwrap(),
        "hello\n"
    );
    let passwd = upper.join("etc/passwd").symlink_metadata().unwrap();
    assert!(
        passwd.file_type().is_char_device() && passwd.rdev() == 0,
        "not a whiteout"
    );
    assert_eq!(upper.join("probe").metadata().unwrap().len(), 4096);
    insta::assert_snapshot!("writes_never_reach_the_lower", transcript);
}

/// Exercise 2 (`classify`): `diff` lists additions, changes and deletions
/// the way `docker diff` does.
#[test]
fn diff_lists_added_changed_deleted() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let c = root.create(Storage::Overlay, &[]);
    let mounted = c.mount().unwrap();
    let mut transcript = sh(&c.rootfs(), CHANGES);
    drop(mounted);
    let changes = c.diff().unwrap();
    transcript.push_str("$ diff\n");
    transcript.push_str(&render(&changes));
    let kind = |path: &str| {
        changes
            .iter()
            .find(|ch| ch.path.as_os_str() == path)
            .map(|ch| ch.kind)
    };
    assert_eq!(kind("/etc"), Some(Kind::Changed));
    assert_eq!(kind("/etc/motd"), Some(Kind::Added));
    assert_eq!(kind("/etc/hosts"), Some(Kind::Changed));
    assert_eq!(kind("/etc/passwd"), Some(Kind::Deleted));
    assert_eq!(kind("/data"), Some(Kind::Added));
    assert_eq!(kind("/data/logs/app.log"), Some(Kind::Added));
    assert_eq!(kind("/bin"), None, "untouched directories are not listed");
    insta::assert_snapshot!("diff_lists_added_changed_deleted", transcript);
}

/// A directory removed and made again is opaque: it hides the lower one.
#[test]
fn diff_of_an_opaque_directory() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let c = root.create(Storage::Overlay, &[]);
    let mounted = c.mount().unwrap();
    let mut transcript = sh(
        &c.rootfs(),
        "rm -r /www; mkdir /www; echo new > /www/new.html; ls -a /www",
    );
    drop(mounted);
    let www = c.upper().join("www");
    assert!(
        is_opaque(&www).unwrap(),
        "/www is not opaque in the upper layer"
    );
    let marker = xattr::get(&www, "trusted.overlay.opaque").unwrap();
    transcript.push_str(&format!(
        "$ getfattr -n trusted.overlay.opaque upper/www\ntrusted.overlay.opaque=\"{}\"\n",
        String::from_utf8_lossy(&marker.unwrap_or_default())
    ));
    let changes = c.diff().unwrap();
    transcript.push_str("$ diff\n");
    transcript.push_str(&render(&changes));
    assert_eq!(
        render(&changes),
        "C /www\nD /www/index.html\nA /www/new.html\n"
    );
    insta::assert_snapshot!("diff_of_an_opaque_directory", transcript);
}

/// Exercise 3 (`commit`): a committed layer stacks on the old lowers and
/// gives the container's view back, deletions included.
#[test]
fn commit_and_remount_sees_the_change() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    for storage in [Storage::Overlay, Storage::Vfs] {
        let c = root.create(storage, &[]);
        let mounted = c.mount().unwrap();
        sh(&c.rootfs(), CHANGES);
        let expected = view(&c.rootfs());
        drop(mounted);
        let layer = root.path().join(format!("layer-{storage}"));
        c.commit(&layer).unwrap();
        let passwd = layer.join("etc/passwd").symlink_metadata().unwrap();
        assert!(passwd.file_type().is_char_device() && passwd.rdev() == 0);
        assert!(is_opaque(&layer.join("www")).unwrap() || storage == Storage::Vfs);
        assert!(
            c.commit(&layer).is_err(),
            "commit must not overwrite a layer"
        );

        let next = root.create(Storage::Overlay, &[fixture::rootfs(), layer.clone()]);
        let mounted = next.mount().unwrap();
        assert_eq!(
            view(&next.rootfs()),
            expected,
            "{storage}: the new stack differs"
        );
        let transcript = sh(
            &next.rootfs(),
            "cat /etc/motd; ls /www; ls /data/logs; cat /etc/passwd 2>&1 || echo passwd is gone",
        );
        drop(mounted);
        assert!(
            next.diff().unwrap().is_empty(),
            "a fresh container has no changes"
        );
        if storage == Storage::Overlay {
            let lines = format!(
                "$ commit <container> <tmp>/layer\n$ run --lower <tmp>/layer ...\n{transcript}"
            );
            insta::assert_snapshot!("commit_and_remount_sees_the_change", lines);
        }
    }
}

#[test]
fn two_containers_on_one_lower_are_independent() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let (a, b) = (
        root.create(Storage::Overlay, &[]),
        root.create(Storage::Overlay, &[]),
    );
    let (ma, mb) = (a.mount().unwrap(), b.mount().unwrap());
    sh(&a.rootfs(), "echo a > /etc/who; rm /etc/hosts");
    sh(&b.rootfs(), "echo b > /etc/who");
    assert_eq!(
        std::fs::read_to_string(a.rootfs().join("etc/who")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("etc/who")).unwrap(),
        "b\n"
    );
    assert!(!a.rootfs().join("etc/hosts").exists());
    assert!(b.rootfs().join("etc/hosts").exists());
    drop((ma, mb));
    assert_eq!(
        render(&a.diff().unwrap()),
        "C /etc\nD /etc/hosts\nA /etc/who\n"
    );
    assert_eq!(render(&b.diff().unwrap()), "C /etc\nA /etc/who\n");
}

/// Exercise 4 (`Lowers::lookup`): the vfs driver's copy and overlay's mount
/// show the same files, before and after the same changes, with the same diff.
#[test]
fn vfs_and_overlay_give_the_same_view() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let o = root.create(Storage::Overlay, &[]);
    let v = root.create(Storage::Vfs, &[]);
    let mounted = o.mount().unwrap();
    let _v = v.mount().unwrap();
    assert_eq!(view(&o.rootfs()), view(&fixture::rootfs()));
    assert_eq!(view(&v.rootfs()), view(&fixture::rootfs()));
    assert!(
        v.diff().unwrap().is_empty(),
        "an untouched copy has no changes"
    );
    sh(&o.rootfs(), CHANGES);
    sh(&v.rootfs(), CHANGES);
    assert_eq!(view(&o.rootfs()), view(&v.rootfs()));
    drop(mounted);
    let (od, vd) = (render(&o.diff().unwrap()), render(&v.diff().unwrap()));
    assert_eq!(od, vd, "overlay and vfs disagree");
    // Each vfs container holds a whole copy; each overlay one only its changes.
    assert!(v.rootfs().join("bin/busybox").metadata().unwrap().len() > 100_000);
    assert!(!o.upper().join("bin").exists());
}

#[test]
fn read_only_refuses_writes() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let mut transcript = String::new();
    for storage in [Storage::Overlay, Storage::Vfs] {
        let c = root
            .store
            .create(&Spec {
                lowers: vec![fixture::rootfs()],
                storage,
                read_only: true,
                ..Spec::default()
            })
            .unwrap();
        let mounted = c.mount().unwrap();
        let (code, out) = try_sh(&c.rootfs(), "echo x > /etc/motd");
        assert_ne!(code, 0, "{storage}: a write succeeded");
        assert!(out.contains("Read-only file system"), "{out}");
        let err = std::fs::write(c.rootfs().join("tmp/x"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        assert_eq!(
            sh(&c.rootfs(), "cat /etc/os-release | head -1"),
            "/ # cat /etc/os-release | head -1\nNAME=\"berth fixture\"\n"
        );
        drop(mounted);
        assert!(c.diff().unwrap().is_empty());
        if storage == Storage::Overlay {
            transcript = format!("$ run --read-only ...\n/ # echo x > /etc/motd\n{out}");
        }
    }
    insta::assert_snapshot!("read_only_refuses_writes", transcript);
}

/// Exercise 1 again (`mount_options`): 120 layers mount through the short
/// links, the topmost copy of a file wins, and 501 are refused.
#[test]
fn many_lowers_stack() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let mut lowers = vec![fixture::rootfs()];
    for i in 1..=120 {
        let layer = root.path().join(format!("layers/layer-{i:03}"));
        std::fs::create_dir_all(layer.join("layers")).unwrap();
        std::fs::write(layer.join(format!("layers/{i:03}")), format!("{i}\n")).unwrap();
        std::fs::write(layer.join("layers/top"), format!("layer {i}\n")).unwrap();
        lowers.push(layer);
    }
    let c = root.create(Storage::Overlay, &lowers);
    let relative = plan(&lowers, &c.upper(), &c.work(), &c.dir).unwrap();
    assert!(
        matches!(relative, MountPlan::Relative { .. }),
        "expected the long form"
    );
    let mounted = c.mount().unwrap();
    let out = sh(
        &c.rootfs(),
        "ls /layers | wc -l; cat /layers/top /layers/001 /layers/120",
    );
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        ["121", "layer 120", "1", "120"]
    );
    assert!(
        !c.dir.join("l").exists(),
        "the short links are removed after mounting"
    );
    drop(mounted);

    let err = root
        .store
        .create(&Spec {
            lowers: vec![fixture::rootfs(); 501],
            ..Spec::default()
        })
        .unwrap_err();
    assert_eq!(err.code, 125);
    assert!(err.message.starts_with("too many layers: 501"), "{err}");
}

/// Exercise 5 (`check_upper_fs`): every refusal is one sentence that says what to do.
#[test]
fn failures_are_explained() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let mut transcript = String::new();
    let mut expect = |what: &str, result: Result<ch04_overlay::Container, ch04_overlay::Error>| {
        let err = result.expect_err(what);
        assert_eq!(err.code, 125, "{what}");
        transcript.push_str(&format!(
            "{what}\n  error: {}\n",
            lab::normalise::mask_ids(&root.normalise(&err.message))
        ));
    };
    let spec = |lowers: Vec<PathBuf>| Spec {
        lowers,
        ..Spec::default()
    };
    expect(
        "missing lower",
        root.store.create(&spec(vec!["/nonexistent/layer".into()])),
    );
    expect(
        "lower is a file",
        root.store
            .create(&spec(vec![fixture::rootfs().join("etc/passwd")])),
    );
    expect("no lower", root.store.create(&spec(vec![])));
    let web = root
        .store
        .create(&Spec {
            name: Some("web".into()),
            ..spec(vec![fixture::rootfs()])
        })
        .unwrap();
    expect(
        "name in use",
        root.store.create(&Spec {
            name: Some("web".into()),
            ..spec(vec![fixture::rootfs()])
        }),
    );
    expect(
        "bad name",
        root.store.create(&Spec {
            name: Some("-web".into()),
            ..spec(vec![fixture::rootfs()])
        }),
    );
    expect("no such container", root.store.find("nosuch"));

    // An upper directory on an overlay: put a second state root inside
    // the first container's merged view.
    let mounted = web.mount().unwrap();
    let inner = ch04_overlay::Store::open(&web.rootfs().join("tmp/state")).unwrap();
    let before = std::fs::read_dir(inner.containers_dir()).unwrap().count();
    expect(
        "upper on overlay",
        inner.create(&spec(vec![fixture::rootfs()])),
    );
    let after = std::fs::read_dir(inner.containers_dir()).unwrap().count();
    assert_eq!(before, after, "the failed create left a directory behind");
    drop(mounted);
    let transcript = transcript.replace(web.config.short_id(), "<id>");
    insta::assert_snapshot!("failures_are_explained", transcript);
}

#[test]
fn ls_and_rm() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    let mut made = Vec::new();
    for (name, storage) in [("db", Storage::Vfs), ("web", Storage::Overlay)] {
        made.push(
            root.store
                .create(&Spec {
                    lowers: vec![fixture::rootfs()],
                    name: Some(name.into()),
                    storage,
                    ..Spec::default()
                })
                .unwrap(),
        );
    }
    let anonymous = root.create(Storage::Overlay, &[]);
    assert!(ch04_overlay::id::check_name(&anonymous.config.name).is_ok());
    let short = made[0].config.short_id().to_string();
    assert_eq!(root.store.find(&short).unwrap().config.name, "db");
    assert_eq!(
        root.store.find(&made[1].config.id).unwrap().config.name,
        "web"
    );
    root.store.remove(&anonymous).unwrap();
    assert!(!anonymous.dir.exists());

    // Fixed creation times, so the listing does not depend on the clock.
    let now = state::now();
    for (age, c) in [(120, &made[0]), (60, &made[1])] {
        let mut config = c.config.clone();
        config.created = now - age;
        config.save(&c.dir).unwrap();
    }
    let ls = |root: &TestRoot| {
        let list = root.store.list().unwrap();
        let mut text = table(&list, now);
        for c in &list {
            text = text.replace(c.config.short_id(), "<id>        ");
        }
        text
    };
    let mut transcript = format!("$ ls\n{}", ls(&root));
    let web = root.store.find("web").unwrap();
    let mounted = web.mount().unwrap();
    let busy = root.store.remove(&web);
    assert!(
        busy.is_ok(),
        "this process may remove its own container: {busy:?}"
    );
    assert!(!web.dir.exists() && !web.is_mounted());
    drop(mounted);
    transcript.push_str(&format!("$ rm web\n$ ls\n{}", ls(&root)));
    assert_eq!(root.store.list().unwrap().len(), 1);
    insta::assert_snapshot!("ls_and_rm", transcript);
}

/// Exercise 6 (`sweep`): a run killed while its container was mounted
/// leaves a mount and a directory; the sweep removes both.
#[test]
fn sweep_cleans_a_killed_run() {
    if !require_root() {
        return;
    }
    let root = TestRoot::new();
    // A process that has certainly ended: started and reaped by us.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();

    let kept = root.create(Storage::Overlay, &[]);
    let doomed = root
        .store
        .create(&Spec {
            lowers: vec![fixture::rootfs()],
            auto_remove: true,
            ..Spec::default()
        })
        .unwrap();
    for c in [&kept, &doomed] {
        std::mem::forget(c.mount().unwrap());
        std::fs::write(c.dir.join(state::PID), format!("{dead}\n")).unwrap();
    }
    // A creation killed before it wrote its metadata.
    let unfinished = root.store.containers_dir().join("f".repeat(64));
    std::fs::create_dir_all(unfinished.join("upper")).unwrap();
    // And a container in use by a live process (us) is left alone.
    let live = root.create(Storage::Overlay, &[]);
    let live_mount = live.mount().unwrap();

    assert_eq!(root.mounts().len(), 3);
    let done = sweep::sweep(&root.store).unwrap();
    let mut lines: Vec<String> = done.iter().map(|l| root.normalise(l)).collect();
    for c in [&kept, &doomed] {
        lines = lines
            .iter()
            .map(|l| {
                l.replace(&c.config.id, "<id>")
                    .replace(c.config.short_id(), "<id>")
            })
            .collect();
    }
    lines.sort();
    assert!(
        !kept.is_mounted() && kept.dir.exists(),
        "a kept container stays, unmounted"
    );
    assert!(!doomed.dir.exists(), "a --rm container goes");
    assert!(!unfinished.exists(), "an unfinished creation goes");
    assert!(live.is_mounted(), "a container in use stays mounted");
    drop(live_mount);
    assert!(root.mounts().is_empty());
    assert!(
        sweep::sweep(&root.store).unwrap().is_empty(),
        "a second sweep finds nothing"
    );
    insta::assert_snapshot!("sweep_cleans_a_killed_run", lines.join("\n") + "\n");
}
