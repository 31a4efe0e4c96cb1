//! The gate in front of every privileged test.
//!
//! Privileged tests start real containers and need root. They never pass by
//! skipping: run without root they fail and say how to run them, unless the
//! person running them opted out with `BERTH_SKIP_PRIVILEGED=1`.

/// The opt-out variable. CI never sets it.
pub const SKIP_VAR: &str = "BERTH_SKIP_PRIVILEGED";

/// What to tell someone who ran privileged tests without root.
pub const HOW_TO_RUN: &str = "privileged test needs root: run `cargo lab test` as root (the README shows the sudo form) \
     (or `cargo lab vm test` for the throwaway VM); set BERTH_SKIP_PRIVILEGED=1 \
     to skip privileged tests on purpose";

/// True when running as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when the person running the tests explicitly opted out.
pub fn opted_out() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v == "1")
}

// ANCHOR: require_root
/// Call first in every privileged test: `if !lab::privileged::require_root() { return; }`.
///
/// Returns true as root; returns false only when the opt-out is set (and
/// says so on stderr); panics with instructions otherwise.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    if opted_out() {
        eprintln!("skipped: privileged test ({SKIP_VAR}=1 is set)");
        return false;
    }
    panic!("{HOW_TO_RUN}");
}
// ANCHOR_END: require_root
