//! `--userns=host|private`: container root as berth's range of host ids
//! from /etc/subuid, owning the image's files (idmapped layers where the
//! filesystem takes them, shifted copies where not).

mod common;

use common::Setup;
use lab::privileged::require_root;

/// Berth's range in `file` (/etc/subuid or /etc/subgid), as the host's
/// file says it: `cargo lab setup` adds one.
fn berth_range(file: &str) -> (u32, u32) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && f[0] == "berth")
                .then(|| (f[1].parse().unwrap(), f[2].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("{file} has no range for berth: run `cargo lab setup`"))
}

const SHOW: &str = "id; cat /proc/self/uid_map /proc/self/gid_map; \
     stat -c 'owner %u:%g %n' / /bin/busybox /suid-probe; \
     touch /new && stat -c 'owner %u:%g %n' /new; /probe security";

#[test]
fn private_maps_root_to_berths_range_and_it_owns_the_image() {
    if !require_root() {
        return;
    }
    let (uid, count) = berth_range("/etc/subuid");
    let (gid, gcount) = berth_range("/etc/subgid");
    let s = Setup::new();
    let run = s.run(&["--userns=private"], &["sh", "-c", SHOW]);
    run.expect_code(0);
    let out = &run.stdout;
    assert!(out.contains("uid=0(root) gid=0(root)"), "{}", run.render());
    let maps: Vec<Vec<u32>> = out
        .lines()
        .filter(|l| l.split_whitespace().count() == 3)
        .filter_map(|l| l.split_whitespace().map(|n| n.parse().ok()).collect())
        .collect();
    assert_eq!(
        maps,
        [vec![0, uid, count], vec![0, gid, gcount]],
        "{}",
        run.render()
    );
    // The image's files are root's inside, set-uid bit kept; a new file too.
    for file in ["/", "/bin/busybox", "/suid-probe", "/new"] {
        assert!(
            out.contains(&format!("owner 0:0 {file}\n")),
            "{file}: {}",
            run.render()
        );
    }
    // Chapter 7's defaults hold in the user namespace as well.
    assert_eq!(
        run.value("security.cap.effective").map(|v| &v[..3]),
        Some("14 ")
    );
    assert_eq!(run.value("security.seccomp.mode"), Some("2"));
    assert!(
        s.mounts().is_empty(),
        "a mount outlived the run: {:?}",
        s.mounts()
    );
    assert_eq!(s.containers(), 0);
}

#[test]
fn host_is_the_default_and_maps_can_be_given() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let map = |options: &[&str]| {
        let run = s.run(options, &["cat", "/proc/self/uid_map"]);
        run.expect_code(0);
        run.stdout
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // No user namespace of its own: the host's whole map.
    assert_eq!(map(&[]), ["0", "0", "4294967295"]);
    assert_eq!(map(&["--userns=host"]), ["0", "0", "4294967295"]);
    // `--userns` alone is private.
    let (uid, count) = berth_range("/etc/subuid");
    assert_eq!(
        map(&["--userns"]),
        ["0".to_string(), uid.to_string(), count.to_string()]
    );
    let given = [
        "--userns=private",
        "--uid-map",
        "0:300000:1000",
        "--gid-map",
        "0:300000:1000",
    ];
    assert_eq!(map(&given), ["0", "300000", "1000"]);
}

#[test]
fn bad_userns_options_create_nothing() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    for options in [
        &["--userns=bogus"][..],
        &["--userns=host", "--uid-map", "0:100000:10"][..],
    ] {
        let run = s.run(options, &["true"]);
        run.expect_code(125);
        // The first line names the option (clap adds the values after it).
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.contains("userns"), "{}", run.render());
    }
    assert_eq!(s.containers(), 0);
}
