//! config.json's hooks: programs the runtime runs at points of the
//! container's life, each with the container's state as JSON on its
//! stdin (dockerd's networks are set up by one, `libnetwork-setkey`).
//!
//! `prestart` and `createRuntime` run in the runtime's namespaces once the
//! container's namespaces exist, as the last parent step of chapter 2's
//! sequence: the child still waits, so its mounts are not made yet (runc
//! runs them a little later, after the mounts; a hook that needs the
//! container's root filesystem must wait for `poststart`). `poststart` runs
//! after `start`, `poststop` at `delete`. `createContainer` and
//! `startContainer` (inside the container) are not run yet: warned about.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ch01_chroot::events::warning;
use ch02_namespaces::{ParentContext, ParentStep, StartSequence};
use oci_spec::runtime::{Hook, Spec as Config};

use super::state::{State, Status};
use crate::Error;

/// How long a hook without a `timeout` may run.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The hooks of one point of the life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Prestart,
    CreateRuntime,
    Poststart,
    Poststop,
}

/// The hooks `config` lists for `point`.
pub fn at(config: &Config, point: Point) -> Vec<Hook> {
    let Some(hooks) = config.hooks() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let list = match point {
        Point::Prestart => hooks.prestart(),
        Point::CreateRuntime => hooks.create_runtime(),
        Point::Poststart => hooks.poststart(),
        Point::Poststop => hooks.poststop(),
    };
    list.clone().unwrap_or_default()
}

// ANCHOR: run_hook
/// Runs one hook with `state` on its stdin; an error if it fails, exits
/// non-zero or outlives its timeout (then it is killed).
pub fn run(hook: &Hook, state: &State) -> Result<(), Error> {
    let path = hook.path();
    let fail = |why: String| Error::engine(format!("hook {}: {why}", path.display()));
    let mut command = Command::new(path);
    if let Some(args) = hook.args() {
        // args[0] is the program's name as it sees it, as in execve(2).
        if let Some((name, rest)) = args.split_first() {
            command.arg0(name).args(rest);
        }
    }
    command.env_clear();
    for entry in hook.env().clone().unwrap_or_default() {
        if let Some((key, value)) = entry.split_once('=') {
            command.env(key, value);
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let json = serde_json::to_vec(state).map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(&json);
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map_or(DEFAULT_TIMEOUT, |t| Duration::from_secs(t as u64));
    let since = Instant::now();
    loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(fail(format!("failed ({status})"))),
            None if since.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("still running after {timeout:?}: killed")));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
// ANCHOR_END: run_hook

/// Runs every hook of `point`, warning about failures instead of failing
/// (`poststart` and `poststop`: the container has started, or is gone).
pub fn run_warning(config: &Config, point: Point, state: &State) {
    for hook in at(config, point) {
        if let Err(e) = run(&hook, state) {
            warning(e.message);
        }
    }
}

/// Adds the `hooks` parent step (prestart, createRuntime) last, and warns
/// about the hooks berth-runtime does not run.
pub fn add_step(config: &Config, state: &State, sequence: &mut StartSequence) {
    if let Some(hooks) = config.hooks() {
        let inside = hooks
            .create_container()
            .iter()
            .chain(hooks.start_container());
        if inside.flatten().next().is_some() {
            warning("createContainer and startContainer hooks are not run yet: left out");
        }
    }
    let hooks: Vec<Hook> = [Point::Prestart, Point::CreateRuntime]
        .into_iter()
        .flat_map(|p| at(config, p))
        .collect();
    if !hooks.is_empty() {
        sequence.parent_step(Box::new(CreateHooks {
            hooks,
            state: state.clone(),
        }));
    }
}

/// Parent step `hooks`: prestart and createRuntime, with the waiting
/// child's pid in the state.
struct CreateHooks {
    hooks: Vec<Hook>,
    state: State,
}

impl ParentStep for CreateHooks {
    fn name(&self) -> &str {
        "hooks"
    }

    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error> {
        let mut state = self.state.clone();
        state.status = Status::Creating;
        state.set_process(ctx.child);
        self.hooks.iter().try_for_each(|hook| run(hook, &state))
    }
}
