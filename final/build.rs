//! Records the compiler's version for `berth version` (Docker prints its
//! Go version there).

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=BERTH_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
}
