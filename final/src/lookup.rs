//! Finding a container by name, id or id prefix, with its record, and
//! reconciling the record with what is true on the host.
//!
//! A record that says running while its monitor is gone (the monitor was
//! killed, the machine rebooted) is set right the first time a command
//! looks at it: exited, with the reason. The chapters' sweeps reclaim what
//! the dead monitor held (mounts, cgroup, address and rules).

use std::path::PathBuf;

use ch04_overlay::store::Container;

use crate::context::Engine;
use crate::record::{self, Record, Status};
use crate::time::now_nanos;
use crate::{Error, Result};

/// A container of the engine: chapter 4's part and the record.
#[derive(Debug, Clone)]
pub struct Found {
    pub container: Container,
    pub record: Record,
}

impl Found {
    pub fn dir(&self) -> &PathBuf {
        &self.container.dir
    }
}

/// Docker's words for a missing container, whatever chapter 4 said.
pub fn no_such(key: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| {
        if e.is(ch01_chroot::error::ErrorKind::NotFound) {
            Error::not_found(format!("No such container: {key}"))
        } else {
            e
        }
    }
}

/// The container `key` names.
pub fn find(engine: &Engine, key: &str) -> Result<Found> {
    let container = engine.containers()?.find(key).map_err(no_such(key))?;
    let record = Record::read(&container.dir)?.ok_or_else(|| {
        Error::not_found(format!(
            "{key} is a container of a chapter binary, not of berth"
        ))
    })?;
    Ok(reconcile(engine, Found { container, record }))
}

/// Every container of the engine, newest first; unreadable records are
/// returned apart, to be reported.
/// A container id whose record cannot be read, and why.
pub type Unreadable = (String, Error);

pub fn all(engine: &Engine) -> Result<(Vec<Found>, Vec<Unreadable>)> {
    let listing = engine.containers()?.scan()?;
    let mut found = Vec::new();
    let mut unreadable: Vec<Unreadable> = listing
        .unreadable
        .into_iter()
        .map(|u| (u.id, u.error))
        .collect();
    for container in listing.containers {
        match Record::read(&container.dir) {
            Ok(Some(record)) => found.push(reconcile(engine, Found { container, record })),
            // No record and nobody creating it: a `create` killed between
            // chapter 4's directory and the record (the record is written
            // before the creator lets go). Nothing of it ever ran.
            Ok(None) if container.user_pid().is_none() => {
                let _ = engine.containers()?.remove(&container);
            }
            Ok(None) => {}
            Err(e) => unreadable.push((container.config.id.clone(), e)),
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.record.created));
    Ok((found, unreadable))
}

// ANCHOR: reconcile
/// A running record without a live monitor is stale: the container died
/// with its monitor (chapter 2's child has the parent-death signal).
fn reconcile(engine: &Engine, mut found: Found) -> Found {
    let stale = found.record.is_active() && !found.record.monitor_alive();
    if stale {
        let fixed = record::update(&found.container.dir, |r| {
            if r.is_active() && !r.monitor_alive() {
                r.state.status = Status::Exited;
                r.state.exit_code = 128 + 9;
                r.state.error = "the container's monitor died".to_string();
                r.state.finished_at = now_nanos();
                r.state.monitor = None;
                r.state.pid = None;
            }
            r.clone()
        });
        if let Ok(record) = fixed {
            found.record = record;
        }
        // What the dead monitor held goes back now.
        sweep(engine);
    }
    found
}
// ANCHOR_END: reconcile

/// What killed monitors left on the host: chapter 4's mounts, chapter 5's
/// addresses, veth pairs and rules, chapter 3's cgroups.
pub fn sweep(engine: &Engine) {
    if let Ok(store) = engine.containers() {
        let _ = ch04_overlay::sweep::sweep(&store);
    }
    if let Ok(host) = ch05_network::run::host_for(&engine.root) {
        let _ = ch05_network::sweep::reclaim_root(&host);
    }
    if let Ok(layout) = ch03_cgroups::Layout::detect() {
        let _ = ch03_cgroups::sweep::sweep_stale(&layout);
    }
}
