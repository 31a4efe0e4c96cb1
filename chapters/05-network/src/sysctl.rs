//! The few kernel switches networking needs, under `/proc/sys/net`.
//!
//! `/proc/sys/net` shows the network namespace of the thread that opens it,
//! so these functions act on the caller's namespace.

use std::fs;

use crate::{Error, Result};

fn path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Reads a switch such as `net.ipv4.ip_forward`.
pub fn get(key: &str) -> Result<String> {
    fs::read_to_string(path(key))
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::engine(format!("cannot read {key}: {e}")))
}

/// Sets a switch, as `sysctl -w key=value` would.
pub fn set(key: &str, value: &str) -> Result<()> {
    if get(key).is_ok_and(|v| v == value) {
        return Ok(());
    }
    crate::trace::command(&format!("sysctl -qw {key}={value}"));
    fs::write(path(key), value).map_err(|e| Error::engine(format!("cannot set {key}={value}: {e}")))
}

/// `net.ipv4.ip_forward=1`: the host routes packets between interfaces.
pub fn enable_ip_forward() -> Result<()> {
    set("net.ipv4.ip_forward", "1")
}

/// `net.ipv4.conf.<dev>.route_localnet=1`: packets from 127.0.0.0/8 may be
/// routed out of `dev` (needed to DNAT `127.0.0.1:PORT` to a container).
pub fn enable_route_localnet(dev: &str) -> Result<()> {
    // Not through `set`: an interface name may hold a dot.
    let path = format!("/proc/sys/net/ipv4/conf/{dev}/route_localnet");
    if fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    crate::trace::command(&format!("sysctl -qw net.ipv4.conf.{dev}.route_localnet=1"));
    fs::write(&path, "1")
        .map_err(|e| Error::engine(format!("cannot set route_localnet on {dev}: {e}")))
}
