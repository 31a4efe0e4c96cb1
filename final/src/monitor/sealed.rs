//! One sealed copy of berth for all monitors.
//!
//! Every monitor clones containers, so it runs from a sealed copy of the
//! binary (chapter 7's answer to CVE-2019-5736). A copy per monitor would
//! cost the binary's size per running container; instead the monitors
//! share one: `<run_dir>/sealed` names (pid and start time) a monitor
//! running from a copy, and a new monitor executes that same copy
//! (chapter 7's `run_from_shared_copy` checks it is sealed and made from
//! this binary). When that monitor exits, the next one to start offers its
//! own copy.

use std::path::{Path, PathBuf};

use ch04_overlay::atomic::write_atomic_volatile;
use ch04_overlay::owner::Owner;

fn holder_file(run_dir: &Path) -> PathBuf {
    run_dir.join("sealed")
}

/// A live monitor whose sealed copy may be shared.
pub fn holder(run_dir: &Path) -> Option<u32> {
    Owner::read(&holder_file(run_dir))
        .filter(Owner::is_alive)
        .map(|o| o.pid)
}

/// Once running sealed: offers our copy if no live monitor offers one.
pub fn offer(run_dir: &Path) {
    if holder(run_dir).is_none() && ch07_security::hygiene::running_sealed() {
        let _ = std::fs::create_dir_all(run_dir);
        let _ = write_atomic_volatile(&holder_file(run_dir), Owner::current().render().as_bytes());
    }
}
