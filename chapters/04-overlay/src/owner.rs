//! Who is using a container: a process id and that process's start time.
//!
//! A pid alone is not enough. After a crash the kernel may hand the same
//! number to an unrelated process, and the container would look in use
//! forever (or, worse, a sweep would trust the wrong process). The start
//! time, field 22 of `/proc/PID/stat` in clock ticks since boot, tells the
//! two apart: the `pid` file holds both, `"<pid> <start>"`.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The process recorded in a container's `pid` file (or, as JSON
/// `{"pid": .., "start_time": ..}`, in any record that names its owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    /// `None` in files that hold only a pid: then the pid alone decides.
    #[serde(rename = "start_time")]
    pub start: Option<u64>,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: start_time(pid),
        }
    }

    /// Process `pid`, if it exists (its start time read now).
    pub fn of_pid(pid: u32) -> Option<Owner> {
        start_time(pid).map(|start| Owner {
            pid,
            start: Some(start),
        })
    }

    /// Reads a `pid` file; `None` if it is missing or unreadable.
    pub fn read(path: &Path) -> Option<Owner> {
        Owner::parse(&std::fs::read_to_string(path).ok()?)
    }

    pub fn parse(text: &str) -> Option<Owner> {
        let mut fields = text.split_whitespace();
        let pid = fields.next()?.parse().ok()?;
        let start = fields.next().and_then(|s| s.parse().ok());
        Some(Owner { pid, start })
    }

    pub fn render(&self) -> String {
        match self.start {
            Some(start) => format!("{} {start}\n", self.pid),
            None => format!("{}\n", self.pid),
        }
    }

    // ANCHOR: is_alive
    /// True while the recorded process, not merely its pid, exists.
    pub fn is_alive(&self) -> bool {
        process_alive(self.pid)
            && self
                .start
                .is_none_or(|start| start_time(self.pid) == Some(start))
    }
    // ANCHOR_END: is_alive
}

/// When process `pid` started, in clock ticks since boot.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // fields from the last ')'. Field 22 is the 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True while process `pid` exists and has not exited. Pid 0 is no
/// process (to `kill(2)` it means "my process group"), so a name or file
/// saying 0 names no one; a zombie has exited, only its status is left
/// for its parent to collect.
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid == 0 || is_zombie(pid) {
        return false;
    }
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// The state field of `/proc/PID/stat` says `Z` (or `X`, being reaped).
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = Owner::current();
        assert!(me.start.is_some());
        assert!(me.is_alive());
        assert_eq!(Owner::parse(&me.render()), Some(me));
        let impostor = Owner {
            start: me.start.map(|s| s + 1),
            ..me
        };
        assert!(!impostor.is_alive(), "same pid, another start time");
        assert!(!process_alive(0) && !process_alive(u32::MAX));
    }

    #[test]
    fn as_json_it_names_pid_and_start_time() {
        let owner = Owner {
            pid: 42,
            start: Some(7),
        };
        let json = serde_json::to_string(&owner).unwrap();
        assert_eq!(json, r#"{"pid":42,"start_time":7}"#);
        assert_eq!(serde_json::from_str::<Owner>(&json).unwrap(), owner);
    }

    #[test]
    fn old_files_hold_only_a_pid() {
        assert_eq!(
            Owner::parse("42\n"),
            Some(Owner {
                pid: 42,
                start: None
            })
        );
        assert_eq!(Owner::parse("junk"), None);
    }
}
