//! The monitor: one small process per running container, the role of
//! containerd's shim or podman's conmon.
//!
//! `start` launches it in a session of its own, so it outlives the command
//! line and the terminal. It runs the chapters' start sequence (chapter 7
//! and, through it, chapters 6 to 2) with one more parent step, `record`,
//! which marks the container running and tells the waiting command line
//! "started" (or the error). Then it holds the container's stdio, writes
//! the log, serves attach clients ([`io`]), and when the container exits:
//! the chapters tear down (network, cgroup, mounts), it records the exit,
//! and it applies the restart policy (by executing itself again after the
//! back-off) or removes a `--rm` container. Nothing idles when nothing runs.

pub mod io;
pub mod sealed;
pub mod spawn;

use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ch01_chroot::report::ReportWriter;
use ch02_namespaces::binds::BindMounts;
use ch02_namespaces::terminal::open_pty;
use ch02_namespaces::{ParentContext, ParentStep, StartSequence};
use ch04_overlay::owner::Owner;

use crate::context::Engine;
use crate::frames::Frame;
use crate::logfile::{LOG, LogWriter};
use crate::record::{self, Record, Status};
use crate::restart::backoff;
use crate::time::now_nanos;
use crate::{Error, Result};
use io::{Client, Io};

/// The descriptor on which `start` waits for "started" or the error.
pub const REPORT_FD: RawFd = 3;

/// With `--attach-first`: the first attach client's socket.
pub const ATTACH_FD: RawFd = 4;

/// What the monitor and its `record` step share.
struct Shared {
    dir: PathBuf,
    report: Option<ReportWriter>,
    /// The container's ends of its stdio: closed here once it runs.
    child_ends: Vec<OwnedFd>,
    io: Option<Io>,
    thread: Option<JoinHandle<()>>,
    /// The main thread's end of the exit pipe: the code goes to the I/O loop.
    exit: Option<OwnedFd>,
    started: bool,
}

// ANCHOR: record_step
/// The parent step that records the container as running, once it is.
struct RecordStep(Rc<RefCell<Shared>>);

impl ParentStep for RecordStep {
    fn name(&self) -> &str {
        "record"
    }

    fn run(&mut self, _ctx: &ParentContext) -> std::result::Result<(), Error> {
        Ok(())
    }

    fn started(&mut self, ctx: &ParentContext) {
        let mut shared = self.0.borrow_mut();
        let pid = Owner::of_pid(ctx.child.as_raw() as u32);
        let _ = record::update_state(&shared.dir, |r| {
            r.endpoint = match r.host.network_mode.as_str() {
                "none" | "host" => None,
                network => crate::endpoint::read(ctx.child.as_raw() as u32, network),
            };
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.started_at = now_nanos();
            r.state.error.clear();
            r.state.exit_code = 0;
            r.state.oom_killed = false;
        });
        shared.child_ends.clear();
        shared.started = true;
        // Threads only now: the container is cloned already.
        if let Some(io) = shared.io.take() {
            shared.thread = Some(std::thread::spawn(move || io.run()));
        }
        // End of file: the command line returns.
        shared.report.take();
        // The start's garbage (parsed options, the image config, the
        // seccomp profile's tables) goes back to the system: a monitor
        // idles for as long as its container runs, 200 of them side by side.
        // SAFETY: malloc_trim only returns free heap pages.
        unsafe { libc::malloc_trim(0) };
    }
}
// ANCHOR_END: record_step

// ANCHOR: monitor_main
/// The monitor's life; its exit code says nothing (the record does).
pub fn main(engine: &Engine, id: &str, attach_first: bool) -> i32 {
    let report: Option<ReportWriter> = is_open(REPORT_FD).then(|| {
        // SAFETY: `start` gave us this descriptor; nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(REPORT_FD) }.into()
    });
    let container = match engine.containers().and_then(|s| s.find(id)) {
        Ok(c) => c,
        Err(e) => return fail_before_start(report, e),
    };
    let dir = container.dir.clone();
    match monitor(engine, container, report, attach_first) {
        Ok(()) => 0,
        Err(e) => {
            let _ = record::update_state(&dir, |r| {
                r.state.error = e.message.clone();
            });
            1
        }
    }
}

fn fail_before_start(report: Option<ReportWriter>, e: Error) -> i32 {
    if let Some(report) = report {
        report.send(&e);
    }
    1
}

fn monitor(
    engine: &Engine,
    container: ch04_overlay::store::Container,
    report: Option<ReportWriter>,
    attach_first: bool,
) -> Result<()> {
    let dir = container.dir.clone();
    let record = Record::read(&dir)?.ok_or_else(|| Error::not_found("no container record"))?;
    let shared = Rc::new(RefCell::new(Shared {
        dir: dir.clone(),
        report,
        child_ends: Vec::new(),
        io: None,
        thread: None,
        exit: None,
        started: false,
    }));
    let prepared = prepare(engine, &record, &container, attach_first, &shared);
    let (spec, options, security) = match prepared {
        Ok(p) => p,
        Err(e) => return Err(not_started(&shared, &dir, e)),
    };
    let mut binds = crate::mounts::bind_mounts(&record.mounts);
    let views = match crate::volume_views::idmap_volumes(&container, &record.mounts, &mut binds) {
        Ok(v) => v,
        Err(e) => return Err(not_started(&shared, &dir, e)),
    };
    let mut sequence = StartSequence::standard();
    sequence.parent_step(Box::new(RecordStep(shared.clone())));
    if let Some(views) = views {
        sequence.parent_step(Box::new(views));
    }
    // ANCHOR: bind_step
    // Before `pivot_root`: chapter 7's steps, added later, stay after it.
    sequence.child_step_before("pivot_root", Box::new(BindMounts(binds)));
    // ANCHOR_END: bind_step
    let began = Instant::now();
    let result = ch07_security::run::run_with(spec, &options, &security, sequence);
    // What `network connect` added while it ran goes with it too.
    crate::networks::connect::release_all(engine, &record.name);
    if !shared.borrow().started {
        let e = result
            .err()
            .unwrap_or_else(|| Error::engine("the container did not start"));
        return Err(not_started(&shared, &dir, e));
    }
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let _ = record::update_state(&dir, |r| r.state.error = e.message.clone());
            128 + 9
        }
    };
    finish(engine, &container, &shared, code, began.elapsed())
}
// ANCHOR_END: monitor_main

/// The start failed: the record goes back to where it was, with the error;
/// the command line hears it.
fn not_started(shared: &Rc<RefCell<Shared>>, dir: &Path, e: Error) -> Error {
    let _ = record::update_state(dir, |r| {
        r.state.status = if r.state.started_at == 0 {
            Status::Created
        } else {
            Status::Exited
        };
        r.state.monitor = None;
        r.state.pid = None;
        r.state.error = e.message.clone();
        if r.state.started_at != 0 {
            r.state.exit_code = e.code;
        }
    });
    if let Some(report) = shared.borrow_mut().report.take() {
        report.send(&e);
    }
    e
}

/// The options to start with: the stored ones, parsed again, with the
/// container's stdio, its existing root, and no pull.
fn prepare(
    engine: &Engine,
    record: &Record,
    container: &ch04_overlay::store::Container,
    attach_first: bool,
    shared: &Rc<RefCell<Shared>>,
) -> Result<(
    ch02_namespaces::Spec,
    ch06_images::run::RunOptions,
    ch07_security::options::SecurityOptions,
)> {
    let mut create = record.options()?.create;
    let env: Vec<String> = record
        .env_file
        .iter()
        .cloned()
        .chain(create.image.container.env)
        .collect();
    create.image.container.env = env;
    let security = create.security.options()?;
    let (mut spec, mut options) = create.image.into_run(engine.root.clone())?;
    options.pull = ch06_images::run::PullPolicy::Never;
    // The image the container was made from, by id: its name may have
    // moved to another image (a newer pull, `tag`) or gone (`rmi -f`).
    // Failing that, the name (whose error then says what is missing).
    let created_from = options.image.to_string();
    if let Ok(Some(name)) =
        crate::images::catalog::name_for_id(engine, &record.image_id, &created_from)
    {
        options.image = ch06_images::reference::Reference::parse(&name)?;
    }
    options.quiet = true;
    options.container.storage.existing = Some(container.clone());
    // The networks as the record keeps them (`network connect` and
    // `disconnect` change them between starts); -P was resolved at create.
    crate::networks::apply(record, &mut options.container.network);
    // A user-defined network's resolver is `berth __resolver NETWORK`.
    options.container.network.resolver = Some(crate::networks::resolver_launcher(engine));

    let socket = engine.socket_of(&record.id);
    engine.make_run_dir(&record.id)?;
    let _ = std::fs::remove_file(&socket);
    let (_dir, short) = crate::context::short_socket_path(&socket)?;
    let listener = UnixListener::bind(&short)
        .map_err(|e| Error::engine(format!("attach socket {}: {e}", socket.display())))?;
    let log = LogWriter::open(
        &container.dir.join(LOG),
        record.host.log_max_size,
        record.host.log_max_files,
    )
    .map_err(|e| Error::engine(format!("opening the log: {e}")))?;
    let (exit_read, exit_write) = pipe()?;
    let mut io = Io {
        outputs: Vec::new(),
        input: None,
        master: None,
        listener,
        clients: Vec::new(),
        log,
        exit: exit_read,
    };
    let child_ends = container_stdio(record, &mut io)?;
    spec.stdio = Some([
        child_ends[0].as_raw_fd(),
        child_ends[1].as_raw_fd(),
        child_ends[2].as_raw_fd(),
    ]);
    if attach_first {
        io.clients.push(first_client(&io)?);
    }
    {
        let mut s = shared.borrow_mut();
        s.child_ends = child_ends;
        s.io = Some(io);
        s.exit = Some(exit_write);
    }
    let _ = record::update_state(&container.dir, |r| {
        r.state.monitor = Some(Owner::current());
    });
    Ok((spec, options, security))
}

// ANCHOR: container_stdio
/// The container's fds 0, 1 and 2: a pty's slave with `-t`; otherwise
/// pipes for stdout and stderr, and for stdin with `-i` (else /dev/null).
fn container_stdio(record: &Record, io: &mut Io) -> Result<Vec<OwnedFd>> {
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| Error::engine(format!("dup: {e}")))
    };
    if record.process.tty {
        let (master, slave) = open_pty()?;
        io::resize(master.as_raw_fd(), 24, 80);
        io.master = Some(master.as_raw_fd());
        if record.process.open_stdin {
            io.input = Some(dup(&master)?);
        }
        let ends = vec![dup(&slave)?, dup(&slave)?, slave];
        io.outputs.push((master, 0));
        return Ok(ends);
    }
    let stdin = if record.process.open_stdin {
        let (read, write) = pipe()?;
        io.input = Some(write);
        read
    } else {
        std::fs::File::open("/dev/null")
            .map_err(|e| Error::engine(format!("/dev/null: {e}")))?
            .into()
    };
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    io.outputs.push((out_read, 0));
    io.outputs.push((err_read, 1));
    Ok(vec![stdin, out_write, err_write])
}
// ANCHOR_END: container_stdio

/// `run` without `-d`, `start -a`: the command line's end of a socket
/// pair, inherited as [`ATTACH_FD`], is the first client, there before the
/// container starts so that it sees all of the output. With a pty, the
/// client's window size comes first ((0, 0): it has no terminal).
fn first_client(io: &Io) -> Result<Client> {
    if !is_open(ATTACH_FD) {
        return Err(Error::engine("no attach descriptor: started by hand?"));
    }
    // SAFETY: `start` gave us this descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(ATTACH_FD) };
    // Not for the container, nor for a restarted monitor.
    // SAFETY: F_SETFD on our own descriptor.
    unsafe { libc::fcntl(ATTACH_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    let stream = UnixStream::from(fd);
    if let Some(master) = io.master {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if let Ok(Some(Frame::Resize(rows, cols))) = Frame::read_from(&mut &stream) {
            io::resize(master, rows, cols);
        }
        let _ = stream.set_read_timeout(None);
    }
    Ok(Client::new(stream))
}

// ANCHOR: finish
/// After the exit: the record, the clients, then the restart policy or
/// the removal of a `--rm` container.
fn finish(
    engine: &Engine,
    container: &ch04_overlay::store::Container,
    shared: &Rc<RefCell<Shared>>,
    code: i32,
    ran: Duration,
) -> Result<()> {
    let dir = &container.dir;
    let oom = OOM.load(std::sync::atomic::Ordering::Relaxed);
    let record = record::update_state(dir, |r| {
        let restart =
            r.host
                .restart
                .should_restart(code, r.state.restart_count, r.state.stopped_by_user);
        r.state.status = if restart {
            Status::Restarting
        } else {
            Status::Exited
        };
        r.state.exit_code = code;
        r.state.oom_killed = oom;
        r.state.pid = None;
        r.state.finished_at = now_nanos();
        if !restart {
            r.state.monitor = None;
        }
        r.clone()
    })?;
    // `--rm`: gone before the clients hear the code, so that `run --rm`
    // returns with nothing left (no polling for the removal).
    let removed = match record.host.auto_remove && record.state.status == Status::Exited {
        true => {
            let removed = crate::remove::remove_stopped(engine, container);
            // As Docker: `--rm` takes the anonymous volumes along.
            crate::mounts::remove_anonymous(engine, &record.mounts);
            removed
        }
        false => Ok(()),
    };
    // The clients hear the code once the record says it.
    let exit = shared.borrow_mut().exit.take();
    if let Some(exit) = exit {
        write_all(exit.as_raw_fd(), &code.to_be_bytes());
    }
    if let Some(thread) = shared.borrow_mut().thread.take() {
        let _ = thread.join();
    }
    let _ = std::fs::remove_file(engine.socket_of(&record.id));
    if record.state.status == Status::Restarting {
        return restart(engine, dir, &record, ran);
    }
    let _ = std::fs::remove_dir(engine.run_dir_of(&record.id));
    removed
}

/// Waits out the back-off, then becomes a new monitor (same pid and start
/// time, so the record's monitor stays valid): a fresh, single-threaded
/// process to clone the container from.
fn restart(engine: &Engine, dir: &Path, record: &Record, ran: Duration) -> Result<()> {
    let delay = backoff(record.state.restart_count, ran);
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        // `stop` during the back-off: stay stopped.
        if Record::read(dir)?.is_some_and(|r| r.state.stopped_by_user) {
            record::update_state(dir, |r| {
                r.state.status = Status::Exited;
                r.state.monitor = None;
            })?;
            return Ok(());
        }
    }
    record::update_state(dir, |r| r.state.restart_count += 1)?;
    let error = spawn::exec_monitor(engine, &record.id);
    record::update_state(dir, |r| {
        r.state.status = Status::Exited;
        r.state.monitor = None;
        r.state.error = error.message.clone();
    })?;
    Err(error)
}
// ANCHOR_END: finish

/// Set when chapter 3 reports that the OOM killer struck (see main.rs's
/// event sink).
pub static OOM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::engine(format!("pipe: {}", e.desc())))
}

fn write_all(fd: RawFd, data: &[u8]) {
    // SAFETY: `data` is valid for its length.
    unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only asks.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}
