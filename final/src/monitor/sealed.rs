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
//!
//! Monitors starting together (50 parallel `run -d`) would all find no
//! holder and all copy: the choice is made under a lock, held across the
//! re-execution (the descriptor survives it, its number in
//! `BERTH_SEALED_LOCK`) until the new holder has offered its copy.

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

/// At the monitor's end: its offer goes with it (the next monitor to
/// start offers its own copy), so that nothing stays in the runtime
/// directory once no container runs.
pub fn withdraw(run_dir: &Path) {
    if Owner::read(&holder_file(run_dir)).is_some_and(|o| o == Owner::current()) {
        let _ = std::fs::remove_file(holder_file(run_dir));
    }
}

/// The variable that tells the re-executed monitor which descriptor holds
/// the lock, so that it lets go once it has offered its copy.
const LOCK_VAR: &str = "BERTH_SEALED_LOCK";

/// Before sealing: waits for the lock (not close-on-exec), and names its
/// descriptor in the environment the re-executed monitor inherits.
pub fn lock(run_dir: &Path) {
    use std::os::fd::IntoRawFd;
    if ch07_security::hygiene::running_sealed() {
        return;
    }
    let _ = std::fs::create_dir_all(run_dir);
    let Ok(file) = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(run_dir.join("sealed.lock"))
    else {
        return; // no lock: at worst, one more copy
    };
    let fd = file.into_raw_fd();
    // SAFETY: our own descriptor; clearing close-on-exec and locking it.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, 0);
        libc::flock(fd, libc::LOCK_EX);
        std::env::set_var(LOCK_VAR, fd.to_string());
    }
}

/// After sealing and offering: lets the next monitor choose.
pub fn unlock() {
    if let Some(fd) = std::env::var(LOCK_VAR)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        // SAFETY: the descriptor `lock` opened, inherited across exec.
        unsafe {
            libc::close(fd);
            std::env::remove_var(LOCK_VAR);
        }
    }
}
