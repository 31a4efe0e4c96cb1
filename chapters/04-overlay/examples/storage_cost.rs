//! What a container costs with each storage driver, on the busybox fixture:
//! time to create and mount its root, and the disk space it takes.
//!
//! As root: `cargo run --release -p ch04-overlay --example storage_cost [N]`

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use ch04_overlay::{Spec, Storage, Store};

/// Disk usage of a tree in KiB, each inode counted once (like `du -sk`).
fn du_kib(path: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let Ok(meta) = path.symlink_metadata() else {
        return 0;
    };
    let mut total = 0;
    if seen.insert((meta.dev(), meta.ino())) {
        total += meta.blocks() / 2;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            total += du_kib(&entry.path(), seen);
        }
    }
    total
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let fixture = lab::fixture::rootfs();
    let image_kib = du_kib(&fixture, &mut HashSet::new());
    println!("fixture: {image_kib} KiB; {n} containers per driver");
    println!(
        "{:<8} {:>14} {:>16} {:>14}",
        "driver", "create+mount", "disk, total", "per container"
    );
    for storage in [Storage::Overlay, Storage::Vfs] {
        let tmp = tempfile::Builder::new()
            .prefix("berth-ch04-test-bench-")
            .tempdir()
            .unwrap();
        let store = Store::open(&tmp.path().join("state")).unwrap();
        let start = Instant::now();
        let mut mounted = Vec::new();
        for _ in 0..n {
            let c = store
                .create(&Spec {
                    lowers: vec![fixture.clone()],
                    storage,
                    ..Spec::default()
                })
                .unwrap();
            mounted.push(c.mount().unwrap());
        }
        let elapsed = start.elapsed();
        drop(mounted);
        let kib = du_kib(&store.containers_dir(), &mut HashSet::new());
        println!(
            "{:<8} {:>11.2} ms {:>12} KiB {:>10} KiB",
            storage.to_string(),
            elapsed.as_secs_f64() * 1000.0 / n as f64,
            kib,
            kib / n as u64
        );
        for c in store.list().unwrap() {
            store.remove(&c).unwrap();
        }
    }
}
