//! Entering a running container: what `docker exec` does.
//!
//! A new process joins the namespaces of the container's first process with
//! `setns`, one `/proc/PID/ns/<type>` file at a time, then execs the
//! command. Four things shape how:
//!
//! - the namespace files are opened *first*, all of them, while this
//!   process still sees the host's `/proc`: after joining the mount
//!   namespace, `/proc/PID` would mean something else, or nothing;
//! - the user namespace is joined first, when the container has its own:
//!   it owns the others, and joining it gives the capabilities needed to
//!   join them. A namespace the caller is already in is skipped (joining
//!   one's own user namespace is even refused, `EINVAL`);
//! - joining a pid namespace moves only the children created next (and
//!   time, likewise, is for children), so the process that joins forks
//!   the one that execs. It forks with `CLONE_PARENT`: the new process is
//!   the *caller's* child, which waits for it, forwards signals and reaps
//!   it, and the joining process exits at once;
//! - joining a mount namespace sets the root and working directory to
//!   that namespace's root, the container's root after its `pivot_root`;
//!   the working directory is then taken inside it.
//!
//! The new process waits, as a container's first process does, until the
//! caller has run its own steps with its pid (chapter 3 moves it into the
//! container's cgroup there), and reports any failure before exec through
//! chapter 1's report pipe. Call [`exec`] from a single-threaded process.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use ch01_chroot::error::ENGINE_ERROR;
use ch01_chroot::exec::exec_command;
use ch01_chroot::report::{ReportWriter, report_pipe};
use nix::fcntl::OFlag;
use nix::sched::{CloneFlags, clone, setns};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Gid, Pid, Uid, chdir, fork, pipe2, setgroups, setresgid, setresuid};

use crate::Error;
use crate::fds;
use crate::forward::BlockedSignals;
use crate::namespaces::Namespace;
use crate::start::set_environment;
use crate::stdio::{self, ChildStdio, Relay};
use crate::sync::{Wait, sync_channel};
use crate::terminal;

/// Stack for the process that execs, until it does (its own copy of memory).
const STACK_SIZE: usize = 1 << 20;

// ANCHOR: exec_spec
/// A command to run inside a running container.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The container's first process, as the caller numbers it.
    pub target: Pid,
    /// The command and its arguments (searched in the container's PATH).
    pub argv: Vec<String>,
    /// The whole environment, `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// The working directory, inside the container.
    pub cwd: PathBuf,
    /// A terminal: with `stdio`, fd 0 becomes the controlling terminal;
    /// without, a pty of its own, relayed to the caller's stdio.
    pub tty: bool,
    /// Descriptors to become its stdin, stdout and stderr (None: the
    /// caller's, terminals relayed through pipes as `run` does).
    pub stdio: Option<[RawFd; 3]>,
    /// uid, gid and supplementary groups to take on (None: the caller's,
    /// or root of the container's user namespace when it has one).
    pub user: Option<(u32, u32, Vec<u32>)>,
    /// It gets `SIGKILL` when the caller dies (the default); false for a
    /// detached exec that outlives its caller (see [`Process::release`]).
    pub die_with_parent: bool,
}
// ANCHOR_END: exec_spec

impl ExecSpec {
    /// Runs `argv` in `target`'s container from `/`, with `env`.
    pub fn new(target: Pid, argv: Vec<String>, env: Vec<String>) -> ExecSpec {
        ExecSpec {
            target,
            argv,
            env,
            cwd: PathBuf::from("/"),
            tty: false,
            stdio: None,
            user: None,
            die_with_parent: true,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.argv.is_empty() {
            return Err(Error::invalid("exec needs a command to run"));
        }
        if !self.cwd.is_absolute() {
            return Err(Error::invalid(format!(
                "the working directory must be absolute, not {}",
                self.cwd.display()
            )));
        }
        if self.target.as_raw() <= 0 {
            return Err(Error::invalid(format!(
                "{} is not a process id",
                self.target
            )));
        }
        Ok(())
    }
}

/// A caller-side step, given the new process's pid before it is released.
pub type ParentHook = Box<dyn FnMut(Pid) -> Result<(), Error>>;
/// A step in the new process, inside the container's namespaces.
pub type ChildHook = Box<dyn FnMut() -> Result<(), Error>>;

// ANCHOR: exec_steps
/// What later chapters add to an exec, in the order it happens.
#[derive(Default)]
pub struct ExecSteps {
    /// In the caller, while the new process waits (chapter 3: the cgroup).
    pub parent: Vec<ParentHook>,
    /// In the new process, before it takes on `user` (chapter 7: the
    /// bounding set, and keeping capabilities across the switch).
    pub before_user: Vec<ChildHook>,
    /// In the new process, last before exec (chapter 7: the capability
    /// sets, `no_new_privs`, seccomp).
    pub child: Vec<ChildHook>,
}
// ANCHOR_END: exec_steps

impl ExecSteps {
    /// Adds a caller-side step.
    pub fn parent(mut self, hook: impl FnMut(Pid) -> Result<(), Error> + 'static) -> Self {
        self.parent.push(Box::new(hook));
        self
    }

    /// Adds a step before the user switch.
    pub fn before_user(mut self, hook: impl FnMut() -> Result<(), Error> + 'static) -> Self {
        self.before_user.push(Box::new(hook));
        self
    }

    /// Adds a step just before exec.
    pub fn child(mut self, hook: impl FnMut() -> Result<(), Error> + 'static) -> Self {
        self.child.push(Box::new(hook));
        self
    }
}

// ANCHOR: join_order
/// The order of joining: the user namespace first (it owns the others),
/// the mount namespace late (it changes what paths mean), then the two
/// whose view depends on the mounts and clocks.
const JOIN_ORDER: [Namespace; 8] = [
    Namespace::User,
    Namespace::Ipc,
    Namespace::Uts,
    Namespace::Net,
    Namespace::Pid,
    Namespace::Mount,
    Namespace::Cgroup,
    Namespace::Time,
];
// ANCHOR_END: join_order

/// The namespaces of a running process that differ from the caller's,
/// opened, in [`JOIN_ORDER`].
#[derive(Debug)]
pub struct TargetNamespaces {
    target: Pid,
    files: Vec<(Namespace, File)>,
}

// ANCHOR: open_namespaces
impl TargetNamespaces {
    /// Opens `/proc/TARGET/ns/*`, keeping those that differ from the
    /// caller's own (compared by the namespace's inode).
    pub fn open(target: Pid) -> Result<TargetNamespaces, Error> {
        let gone = || {
            Error::not_found(format!(
                "no running process {target} to enter (has the container exited?)"
            ))
        };
        let mut files = Vec::new();
        for ns in JOIN_ORDER {
            let ours = std::fs::metadata(format!("/proc/self/ns/{}", ns.name()));
            let theirs = match File::open(format!("/proc/{target}/ns/{}", ns.name())) {
                Ok(file) => file,
                // This kernel has no such namespace at all.
                Err(_) if ours.is_err() => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(gone()),
                Err(e) => {
                    return Err(Error::engine(format!(
                        "opening /proc/{target}/ns/{}: {}",
                        ns.name(),
                        crate::io_reason(&e)
                    )));
                }
            };
            let id = |m: std::fs::Metadata| (m.dev(), m.ino());
            let same = match (ours, theirs.metadata()) {
                (Ok(ours), Ok(theirs)) => id(ours) == id(theirs),
                _ => false,
            };
            if !same {
                files.push((ns, theirs));
            }
        }
        Ok(TargetNamespaces { target, files })
    }

    /// True when joining means entering namespace `ns`.
    pub fn joins(&self, ns: Namespace) -> bool {
        self.files.iter().any(|(n, _)| *n == ns)
    }
}
// ANCHOR_END: open_namespaces

// ANCHOR: join_namespaces
impl TargetNamespaces {
    /// Joins them all, in order. Only in a single-threaded process (user
    /// and mount namespaces refuse others), which is then inside: its
    /// children are in the pid and time namespaces too.
    pub fn join(self) -> Result<(), Error> {
        for (ns, file) in &self.files {
            setns(file, ns.flag()).map_err(|e| {
                Error::engine(format!(
                    "joining the {ns} namespace of process {}: {}",
                    self.target,
                    e.desc()
                ))
            })?;
        }
        Ok(())
    }
}
// ANCHOR_END: join_namespaces

/// A process started inside a container by [`exec`].
///
/// Dropping it without [`Process::wait`] kills it.
pub struct Process {
    pid: Pid,
    /// The caller's stdio relayed to the process's (a pty with `tty`).
    relay: Option<Relay>,
    signals: Option<BlockedSignals>,
    reaped: bool,
}

// ANCHOR: exec
/// Runs `spec.argv` inside the container of `spec.target`; returns once
/// the command was executed, or with the first error of any side, no
/// process left behind.
pub fn exec(spec: &ExecSpec, steps: ExecSteps) -> Result<Process, Error> {
    spec.validate()?;
    // Opened here, from the host's /proc, before anything is joined.
    let namespaces = TargetNamespaces::open(spec.target)?;
    let (report, child_report) = report_pipe()?;
    let (release, wait) = sync_channel()?;
    let (pid_reader, pid_writer) = pid_pipe()?;
    let signals = BlockedSignals::block()?;
    let (stdio, relay) = match spec.stdio {
        Some(fds) => (ChildStdio::given(fds, spec.tty)?, None),
        // A terminal of the container's own devpts, as the container's
        // first process has (the host's, if it has none).
        None if spec.tty => {
            let root = PathBuf::from(format!("/proc/{}/root", spec.target));
            match terminal::open_pty_in(&root)? {
                Some(pty) => stdio::with_terminal(pty).map(|(c, r)| (c, Some(r)))?,
                None => stdio::prepare(true, None)?,
            }
        }
        None => stdio::prepare(false, None)?,
    };
    let ExecSteps {
        parent,
        before_user,
        child,
    } = steps;
    let joiner = Joiner {
        namespaces,
        pid_writer,
        parent_ends: [
            report.as_fd().as_raw_fd(),
            release.as_fd().as_raw_fd(),
            pid_reader.as_raw_fd(),
        ],
        inside: Inside {
            spec,
            stdio,
            before_user,
            child,
            wait,
            report: child_report,
            mask: signals.original(),
            user_namespace: false,
        },
    };
    // SAFETY: the caller is single-threaded; the child leaves only
    // through _exit (see `Joiner::run`).
    let joiner_pid = match unsafe { fork() } {
        Ok(ForkResult::Child) => joiner.run(),
        Ok(ForkResult::Parent { child }) => {
            // The caller's copies of the child's ends: closed, so that
            // end-of-file on the pipes means what it should.
            drop(joiner);
            child
        }
        Err(e) => return Err(Error::engine(format!("fork: {}", e.desc()))),
    };
    // The joiner sends the new process's pid, or nothing if it failed;
    // either way it exits at once.
    let pid = read_pid(pid_reader);
    let _ = waitpid(joiner_pid, None);
    let Some(pid) = pid else {
        return Err(report
            .receive()
            .unwrap_or_else(|| Error::engine("entering the container failed")));
    };
    let mut process = Process {
        pid,
        relay,
        signals: Some(signals),
        reaped: false,
    };
    for mut hook in parent {
        // On error, dropping `process` kills and reaps it.
        hook(pid)?;
    }
    release.release()?;
    // End-of-file: the command was executed. A message: a step failed.
    if let Some(error) = report.receive() {
        process.reap();
        return Err(error);
    }
    Ok(process)
}
// ANCHOR_END: exec

/// A pipe for one pid, both ends close-on-exec.
fn pid_pipe() -> Result<(File, File), Error> {
    let (read, write): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::engine(format!("cannot create pid pipe: {}", e.desc())))?;
    Ok((read.into(), write.into()))
}

/// The pid sent through the pipe; None at end-of-file (nothing sent).
fn read_pid(mut reader: File) -> Option<Pid> {
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes).ok()?;
    Some(Pid::from_raw(i32::from_le_bytes(bytes)))
}

/// The forked process that joins the namespaces and forks the one inside.
struct Joiner<'a> {
    namespaces: TargetNamespaces,
    pid_writer: File,
    /// The caller's ends of the three pipes, closed first thing.
    parent_ends: [RawFd; 3],
    inside: Inside<'a>,
}

/// The process that execs the command: all it needs, moved into it.
struct Inside<'a> {
    spec: &'a ExecSpec,
    stdio: ChildStdio,
    before_user: Vec<ChildHook>,
    child: Vec<ChildHook>,
    wait: Wait,
    report: ReportWriter,
    /// The caller's signal mask from before, restored before exec.
    mask: SigSet,
    /// True when it entered the container's user namespace.
    user_namespace: bool,
}

/// Leaves a forked process without running the caller's destructors.
fn leave(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing of the caller's runs.
    unsafe { libc::_exit(code) }
}

// ANCHOR: joiner
impl Joiner<'_> {
    /// Joins, forks the process inside as the caller's child, sends its
    /// pid, exits. Never returns.
    fn run(self) -> ! {
        let _ = set_pdeathsig(Signal::SIGKILL);
        for fd in self.parent_ends {
            // SAFETY: this process's copies of descriptors only the caller uses.
            unsafe { libc::close(fd) };
        }
        let Joiner {
            namespaces,
            mut pid_writer,
            mut inside,
            ..
        } = self;
        inside.user_namespace = namespaces.joins(Namespace::User);
        if let Err(error) = namespaces.join() {
            inside.report.send(&error);
            leave(ENGINE_ERROR);
        }
        let writer_fd = pid_writer.as_raw_fd();
        let mut slot = Some(inside);
        let mut stack = vec![0u8; STACK_SIZE];
        let body = Box::new(|| match slot.take() {
            Some(inside) => inside.run(writer_fd),
            None => ENGINE_ERROR as isize,
        });
        // CLONE_PARENT: the caller, not this process, is its parent.
        // SAFETY: single-threaded; the new process has its own copy of
        // memory and leaves only through exec or _exit.
        let cloned = unsafe {
            clone(
                body,
                &mut stack,
                CloneFlags::CLONE_PARENT,
                Some(Signal::SIGCHLD as i32),
            )
        };
        match cloned {
            Ok(pid) => {
                let _ = pid_writer.write_all(&pid.as_raw().to_le_bytes());
                leave(0)
            }
            Err(e) => {
                // ENOMEM here: the container's pid namespace has no init left.
                let error =
                    Error::engine(format!("starting a process in the container: {}", e.desc()));
                if let Some(inside) = slot.take() {
                    inside.report.send(&error);
                }
                leave(ENGINE_ERROR)
            }
        }
    }
}
// ANCHOR_END: joiner

// ANCHOR: inside
impl Inside<'_> {
    /// Inside every namespace: wait for the caller, set up, exec.
    fn run(self, pid_writer: RawFd) -> ! {
        // Its parent is the caller: if the caller dies, so does it.
        if self.spec.die_with_parent {
            let _ = set_pdeathsig(Signal::SIGKILL);
        }
        // SAFETY: this process's copy of the joiner's end.
        unsafe { libc::close(pid_writer) };
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None);
        let Inside {
            spec,
            stdio,
            mut before_user,
            mut child,
            wait,
            report,
            user_namespace,
            ..
        } = self;
        if !wait.wait() {
            // The caller gave up: it reports why.
            leave(ENGINE_ERROR);
        }
        let ready = stdio.apply().and_then(|()| {
            run_hooks(&mut before_user)?;
            match (&spec.user, user_namespace) {
                (Some((uid, gid, groups)), _) => {
                    become_user(*uid, *gid, groups, spec.die_with_parent)?
                }
                // Still the host's root, unmapped in there: become the
                // container's root, as `nsenter -U` does.
                (None, true) => become_user(0, 0, &[], spec.die_with_parent)?,
                (None, false) => {}
            }
            chdir(&spec.cwd).map_err(|e| {
                Error::engine(format!(
                    "working directory {}: {}",
                    spec.cwd.display(),
                    e.desc()
                ))
            })?;
            set_environment(&spec.env);
            run_hooks(&mut child)?;
            fds::close_inherited_on_exec(0)
        });
        let error = match ready {
            Ok(()) => match exec_command(&spec.argv) {
                Ok(never) => match never {},
                Err(error) => error,
            },
            Err(error) => error,
        };
        let code = error.code;
        report.send(&error);
        leave(code)
    }
}
// ANCHOR_END: inside

fn run_hooks(hooks: &mut [ChildHook]) -> Result<(), Error> {
    hooks.iter_mut().try_for_each(|hook| hook())
}

/// Takes on `uid`, `gid` and `groups` (groups first: after the uid, no
/// more changes are allowed).
fn become_user(uid: u32, gid: u32, groups: &[u32], die_with_parent: bool) -> Result<(), Error> {
    let sys = |what: String| move |e: nix::Error| Error::engine(format!("{what}: {}", e.desc()));
    let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    match setgroups(&groups) {
        Ok(()) => {}
        // A user namespace whose creator had to deny setgroups keeps them.
        Err(nix::Error::EPERM) if setgroups_denied() => {}
        Err(e) => return Err(sys("setgroups".into())(e)),
    }
    let g = Gid::from_raw(gid);
    setresgid(g, g, g).map_err(sys(format!("setgid {gid}")))?;
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).map_err(sys(format!("setuid {uid}")))?;
    // Changing credentials cleared the parent-death signal: set it again.
    if die_with_parent {
        set_pdeathsig(Signal::SIGKILL).map_err(sys("prctl".into()))?;
    }
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

impl Process {
    /// The process, as the caller numbers it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for it to exit, forwarding signals (and relaying its stdio),
    /// and returns its exit code (128+N for signal N).
    pub fn wait(mut self) -> Result<i32, Error> {
        self.reaped = true;
        crate::start::wait_child(self.pid, self.relay.take())
    }

    /// Lets it run on without this value (nobody here waits for it): for
    /// a detached exec whose spec has `die_with_parent` false; its pid.
    pub fn release(mut self) -> Pid {
        self.reaped = true;
        self.pid
    }

    fn reap(&mut self) {
        if !std::mem::replace(&mut self.reaped, true) {
            crate::start::kill_and_reap(self.pid);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.reap();
        // Restores the signal mask last.
        self.signals.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch01_chroot::error::ErrorKind;

    #[test]
    fn nothing_to_join_in_ones_own_namespaces() {
        let own = TargetNamespaces::open(nix::unistd::getpid()).unwrap();
        assert!(own.files.is_empty());
        assert!(!own.joins(Namespace::User));
    }

    #[test]
    fn a_missing_process_is_not_found() {
        // Above the largest pid_max the kernel allows (4194304).
        let err = TargetNamespaces::open(Pid::from_raw(i32::MAX)).unwrap_err();
        assert_eq!((err.kind, err.code), (ErrorKind::NotFound, 125));
        assert!(err.message.contains("has the container exited?"));
    }

    #[test]
    fn bad_specs_are_refused_before_anything_starts() {
        let spec = ExecSpec::new(nix::unistd::getpid(), Vec::new(), Vec::new());
        assert_eq!(spec.validate().unwrap_err().kind, ErrorKind::InvalidInput);
        let mut spec = ExecSpec::new(nix::unistd::getpid(), vec!["true".into()], Vec::new());
        spec.cwd = PathBuf::from("relative");
        assert_eq!(spec.validate().unwrap_err().kind, ErrorKind::InvalidInput);
    }
}
