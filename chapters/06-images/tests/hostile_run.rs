//! Running hostile images (issue 12, item 7): an image's symbolic links
//! are the image's, resolved inside its root, never on the host's side,
//! whatever the engine writes or mounts there (/etc files, mount targets,
//! the working directory). Images are served by a real registry on
//! 127.0.0.1 (Debian's docker-registry), seeded with skopeo.

use std::path::{Path, PathBuf};

use ch05_network::network::{Host, TAG_VAR};
use lab::privileged::require_root;
use lab::registry::{Compression, LayerTar, Layout, Registry, fixture_layer, skopeo_push};
use lab::scenario::{Outcome, Scenario};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_ch06-images");

/// A registry, a state root, a network tag of this test's own; the
/// default network is taken down on drop.
struct Setup {
    registry: Registry,
    tmp: tempfile::TempDir,
    tag: String,
}

impl Setup {
    fn new(letter: char) -> Setup {
        Setup {
            registry: Registry::start().unwrap(),
            tmp: tempfile::Builder::new()
                .prefix("berth-ch06-hostile-")
                .tempdir()
                .unwrap(),
            tag: format!("h{}{letter}", std::process::id() % 1_000_000),
        }
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn ch06(&self, args: &[&str]) -> Outcome {
        Scenario::new(BIN)
            .arg("--root")
            .arg(self.root())
            .args(args)
            .env(TAG_VAR, &self.tag)
            .run()
    }

    /// Pushes the fixture plus `layer` with `config` as `busybox:TAG`.
    fn push(&self, tag: &str, layer: Vec<u8>, config: serde_json::Value) -> String {
        let dir = self.tmp.path().join(format!("layout-{tag}"));
        let mut layout = Layout::create(&dir).unwrap();
        let desc = layout
            .image_config(
                &[
                    (fixture_layer().unwrap(), Compression::Gzip),
                    (layer, Compression::Gzip),
                ],
                "amd64",
                config,
            )
            .unwrap();
        layout.tag(tag, &desc).unwrap();
        let reference = format!("{}/busybox:{tag}", self.registry.host());
        skopeo_push(&dir, tag, &reference, false).unwrap();
        reference
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Ok(host) = Host::new(self.root()).tagged(&self.tag) {
            let _ = host.delete_network("bridge");
        }
    }
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An image whose /etc is a link to a host directory (holding a link
/// resolv.conf), and whose working directory is a link to another: the
/// run writes nothing there, and the container still gets its /etc files
/// and its working directory, inside its own root.
#[test]
fn image_links_are_resolved_inside_the_root() {
    if !require_root() {
        return;
    }
    let s = Setup::new('a');
    let host = tempfile::tempdir().unwrap();
    let host_etc = host.path().join("etc");
    std::fs::create_dir(&host_etc).unwrap();
    std::os::unix::fs::symlink("/nowhere", host_etc.join("resolv.conf")).unwrap();
    let host_work = host.path().join("work");
    std::fs::create_dir(&host_work).unwrap();
    let layer = LayerTar::new()
        .symlink("etc", &host_etc.display().to_string())
        .symlink("srv", &host_work.display().to_string())
        .finish();
    let image = s.push(
        "links",
        layer,
        json!({"Cmd": ["sh", "-c", "cat /etc/hostname; pwd"], "WorkingDir": "/srv/app"}),
    );
    let out = s.ch06(&["run", "--rm", "-q", "--hostname", "inside", &image]);
    assert_eq!(
        names(&host_etc),
        ["resolv.conf"],
        "the run wrote into the host's directory: {}",
        out.render()
    );
    assert!(
        host_etc
            .join("resolv.conf")
            .symlink_metadata()
            .unwrap()
            .is_symlink(),
        "the host's resolv.conf link was replaced"
    );
    assert!(
        names(&host_work).is_empty(),
        "the working directory was made on the host"
    );
    out.expect_code(0);
    // The link's target was made inside the root, as runc does.
    assert!(
        out.stdout.starts_with("inside\n") && out.stdout.ends_with("/work/app\n"),
        "{}",
        out.render()
    );
}
