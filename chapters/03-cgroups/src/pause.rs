//! `--pause-after`/`--resume-after`: `docker pause` and `docker unpause`,
//! on a timer, to watch the freezer work.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use ch01_chroot::cli::program;
use ch01_chroot::events;

use crate::cgroup::Cgroup;

/// A timer thread that freezes the container, then thaws it. Dropping it
/// stops the timer (and thaws, if the container is paused at that moment).
pub struct PauseTimer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

// ANCHOR: pause_timer
impl PauseTimer {
    /// Pauses the container `after` from now, and resumes it `resume` later.
    pub fn start(cgroup: Arc<Cgroup>, after: Duration, resume: Duration) -> PauseTimer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if stopped.recv_timeout(after) != Err(RecvTimeoutError::Timeout) {
                return; // the container ended first
            }
            if cgroup.freeze().is_err() {
                return;
            }
            events::notice(format!(
                "{}: paused: every process of the container is frozen",
                program()
            ));
            let before = cgroup.cpu_time().ok();
            let _ = stopped.recv_timeout(resume);
            let used = before.and_then(|b| Some(cgroup.cpu_time().ok()? - b));
            let _ = cgroup.thaw();
            match used {
                Some(used) => events::notice(format!(
                    "{}: resumed; CPU time used while paused: {} ms",
                    program(),
                    used.as_millis()
                )),
                None => events::notice(format!("{}: resumed", program())),
            }
        });
        PauseTimer {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}
// ANCHOR_END: pause_timer

impl Drop for PauseTimer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
