//! `exec`: a new process in a running container, by chapter 2's `exec`
//! (setns into the container's namespaces), in its cgroup (chapter 3),
//! as its user (chapter 6's lookup in the container's own /etc/passwd),
//! with its least privilege (chapter 7). The command line is the new
//! process's parent, as podman's is: its exit code is ours.

use std::path::{Path, PathBuf};

use ch02_namespaces::join::{ExecSpec, ExecSteps, exec as enter};
use nix::unistd::Pid;

use crate::cli::ExecArgs;
use crate::context::Engine;
use crate::lookup::find;
use crate::record::Status;
use crate::{Error, Result};

// ANCHOR: exec
pub fn exec(engine: &Engine, args: ExecArgs) -> Result<i32> {
    let found = find(engine, &args.container)?;
    let status = found.record.state.status;
    if status == Status::Paused {
        return Err(Error::conflict(format!(
            "container {} is paused: unpause it first",
            args.container
        )));
    }
    let target = match (status, found.record.live_pid()) {
        (Status::Running, Some(pid)) => pid,
        _ => {
            return Err(Error::conflict(format!(
                "container {} is not running",
                args.container
            )));
        }
    };
    let security = found.record.options()?.create.security.options()?;
    let root = PathBuf::from(format!("/proc/{target}/root"));
    let user_spec = args
        .user
        .clone()
        .unwrap_or(found.record.process.user.clone());
    let user = ch06_images::user::lookup(
        &root,
        if user_spec.is_empty() {
            "0"
        } else {
            &user_spec
        },
    )?;
    let mut env = found.record.process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    for entry in &args.env {
        let entry = match entry.split_once('=') {
            Some(_) => entry.clone(),
            None => match std::env::var(entry) {
                Ok(value) => format!("{entry}={value}"),
                Err(_) => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    if args.tty {
        env.retain(|e| !e.starts_with("TERM="));
        env.push("TERM=xterm".to_string());
    }
    let cwd = args
        .workdir
        .clone()
        .unwrap_or_else(|| workdir(&found.record.process.workdir));
    let null =
        std::fs::File::open("/dev/null").map_err(|e| Error::engine(format!("/dev/null: {e}")))?;
    let spec = ExecSpec {
        target,
        argv: args.command.clone(),
        env,
        cwd,
        tty: args.tty,
        stdio: stdio(&args, &null),
        user: Some((user.uid, user.gid, user.groups.clone())),
        // A detached process outlives this command.
        die_with_parent: !args.detach,
    };
    let steps = ExecSteps::default()
        .parent(move |pid: Pid| ch03_cgroups::join::join_cgroup_of(target, pid));
    let steps = ch07_security::exec::confine_exec(&security, steps)?;
    let process = enter(&spec, steps)?;
    if args.detach {
        // Lives on without us: nobody waits for it (it is not a zombie
        // for long: the kernel reparents it when we exit).
        process.release();
        return Ok(0);
    }
    process.wait()
}
// ANCHOR_END: exec

fn workdir(dir: &str) -> PathBuf {
    if dir.is_empty() {
        PathBuf::from("/")
    } else {
        Path::new(dir).to_path_buf()
    }
}

/// Without `-i`, stdin is /dev/null (Docker's exec does not read it);
/// `-d`: nothing of ours at all.
fn stdio(args: &ExecArgs, null: &std::fs::File) -> Option<[i32; 3]> {
    use std::os::fd::AsRawFd;
    let null = null.as_raw_fd();
    if args.detach {
        Some([null, null, null])
    } else if !args.interactive && !args.tty {
        Some([null, 1, 2])
    } else {
        None
    }
}
