//! The commands a reader would type for what berth just did.
//!
//! berth changes links through netlink and rules through one
//! `iptables-restore` per container, but every change has an `ip`,
//! `sysctl` or `iptables` equivalent. Each is handed to the sink the binary
//! installed (`--show-commands` prints them); without one, nothing happens.

use std::sync::OnceLock;

type Sink = Box<dyn Fn(&str) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the process's sink, once; later calls are ignored.
pub fn set_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(sink));
}

/// Hands one equivalent command to the sink, if there is one.
pub fn command(line: &str) {
    if let Some(sink) = SINK.get() {
        sink(line);
    }
}

/// True when someone listens (so callers skip building lines otherwise).
pub fn enabled() -> bool {
    SINK.get().is_some()
}
