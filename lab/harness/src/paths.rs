//! Where things live: the workspace, its target directory, the lab's caches.

use std::path::PathBuf;

/// The workspace root (the directory holding the root `Cargo.toml`): two
/// levels above this crate, `lab/harness`.
pub fn workspace() -> PathBuf {
    let harness = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    harness
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or(harness)
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace().join(dir)
            }
        }
        None => workspace().join("target"),
    }
}

/// The cargo binary to call (the one running us, when there is one).
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// A built binary of the workspace (debug profile).
pub fn workspace_bin(name: &str) -> PathBuf {
    target_dir().join("debug").join(name)
}
