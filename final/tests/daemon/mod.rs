//! What the tests that start real daemons (containerd, dockerd) share:
//! the fixture image in the test registry and waiting for a daemon to
//! answer; stopping it and cleaning up after it are the harness's
//! (`lab::daemon`, which the bench's dockerd uses too).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Pushes the fixture, as an image of one layer tagged `tag`, to `image`
/// (a reference in the test registry), through an OCI layout in `dir`.
pub fn push_fixture(dir: &Path, tag: &str, image: &str) {
    use lab::registry::{Compression, Layout, fixture_layer, skopeo_push};
    let layout_dir = dir.join("layout");
    let mut layout = Layout::create(&layout_dir).unwrap();
    let desc = layout
        .image(
            &[(fixture_layer().unwrap(), Compression::Gzip)],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag(tag, &desc).unwrap();
    skopeo_push(&layout_dir, tag, image, false).unwrap();
}

/// Polls `ready` until it holds; fails after `patience` with the daemon's
/// log (`log`).
pub fn wait_until(what: &str, log: &Path, patience: Duration, ready: impl Fn() -> bool) {
    let since = Instant::now();
    while !ready() {
        assert!(
            since.elapsed() < patience,
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails with the fix when a program of the daemons' packages is missing.
pub fn require(tools: &[&str]) {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "{tool} is missing: run `cargo lab setup` (it installs Debian's containerd and docker.io)"
        );
    }
}

pub use lab::daemon::{HostPaths, kill_shims, stop, unmount_under};
