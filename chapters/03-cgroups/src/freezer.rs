//! Pausing and resuming every process of a container: the freezer.
//!
//! `docker pause` does not send SIGSTOP (a process can see and undo that);
//! it asks the kernel to stop scheduling every task of the cgroup. On v2
//! that is the core file `cgroup.freeze` (`1` or `0`) and the kernel says
//! when it is done with `frozen 1` in `cgroup.events`. On v1 it is the
//! `freezer` controller's `freezer.state`, written `FROZEN` or `THAWED`,
//! which reads `FREEZING` until every task has stopped.

use std::time::{Duration, Instant};

use crate::Error;
use crate::cgroup::{Cgroup, read_file, write_file};

/// How long freezing may take before we give up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: freeze
impl Cgroup {
    /// Stops every process in the cgroup; returns once all are stopped.
    pub fn freeze(&self) -> Result<(), Error> {
        self.set_frozen(true)
    }

    /// Lets every process run again.
    pub fn thaw(&self) -> Result<(), Error> {
        self.set_frozen(false)
    }

    /// Whether the kernel reports the cgroup as completely frozen.
    pub fn is_frozen(&self) -> Result<bool, Error> {
        match self.v2_dir() {
            Some(dir) => Ok(read_file(&dir.join("cgroup.events"))?
                .lines()
                .any(|l| l == "frozen 1")),
            None => Ok(self.read("freezer", "freezer.state")?.trim() == "FROZEN"),
        }
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), Error> {
        match self.v2_dir() {
            Some(dir) => write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?,
            None => self.write(
                "freezer",
                "freezer.state",
                if frozen { "FROZEN" } else { "THAWED" },
            )?,
        }
        // Freezing is asynchronous: wait until the kernel says it is done.
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        while self.is_frozen()? != frozen {
            if Instant::now() > deadline {
                return Err(Error::engine(format!(
                    "cgroup {} did not {} within {FREEZE_TIMEOUT:?}",
                    self.name(),
                    if frozen { "freeze" } else { "thaw" }
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}
// ANCHOR_END: freeze
