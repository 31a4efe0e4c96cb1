//! The bench's own berth installation: a state root, a runtime directory
//! and a network tag (bridge and chains) of its own, so nothing it does
//! touches `/var/lib/berth`; dropping it removes every container it still
//! has (`rm -f` by id: the engine kills by pid and start time) and its
//! networks.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// One `berth` binary with its own state.
pub struct Berth {
    bin: PathBuf,
    root: PathBuf,
    run_dir: PathBuf,
    tag: String,
    /// Chapter 5's variable that names the tag.
    tag_var: &'static str,
}

impl Berth {
    /// `bin` with state in `root` and `run_dir` (short: the monitors'
    /// sockets `RUN_DIR/ID/attach.sock` must fit in 108 bytes) and the
    /// bridge and chains of `tag`.
    pub fn new(bin: PathBuf, root: PathBuf, run_dir: PathBuf, tag: String) -> Result<Berth> {
        Ok(Berth {
            bin,
            root,
            run_dir,
            tag,
            tag_var: crate::sweep::tag_var()?,
        })
    }

    /// `berth --root R --run-dir D ARGS...`, quiet on stdin, output captured.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--root")
            .arg(&self.root)
            .arg("--run-dir")
            .arg(&self.run_dir)
            .args(args)
            .env(self.tag_var, &self.tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `berth ARGS...`, which must succeed: its output.
    pub fn call(&self, args: &[&str]) -> Result<Output> {
        let mut command = self.command(args);
        let out = command
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "berth {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    /// `berth pull` of `image` from the plain-HTTP registry at `host`.
    pub fn pull(&self, host: &str, image: &str) -> Result<()> {
        self.call(&["pull", "-q", "--insecure-registry", host, image])
            .map(drop)
    }

    /// `run -d --network none IMAGE COMMAND...`: the new container's id.
    pub fn run_idle(&self, image: &str, command: &[&str]) -> Result<String> {
        let mut args = vec!["run", "-d", "--network", "none", image];
        args.extend(command);
        let out = self.call(&args)?;
        container_id(&out.stdout)
    }

    /// The host pid of a running container's first process.
    pub fn pid_of(&self, id: &str) -> Result<i32> {
        let out = self.call(&["inspect", "--format", "{{.State.Pid}}", id])?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.trim().parse() {
            Ok(pid) if pid > 0 => Ok(pid),
            _ => bail!("container {id} has no pid (inspect said {:?})", text.trim()),
        }
    }

    /// `rm -f` of `ids`, a batch at a time.
    pub fn remove(&self, ids: &[String]) -> Result<()> {
        for batch in ids.chunks(50) {
            let mut args = vec!["rm", "-f"];
            args.extend(batch.iter().map(String::as_str));
            self.call(&args)?;
        }
        Ok(())
    }

    /// Every container of this installation, by full id.
    pub fn all(&self) -> Result<Vec<String>> {
        let out = self.call(&["ps", "-aq", "--no-trunc"])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

/// The id `run -d` printed.
pub fn container_id(stdout: &[u8]) -> Result<String> {
    let text = String::from_utf8_lossy(stdout);
    match text.trim() {
        "" => bail!("berth run -d printed no container id"),
        id => Ok(id.to_string()),
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        if !self.root.exists() {
            return;
        }
        match self.all() {
            Ok(ids) if !ids.is_empty() => {
                if let Err(e) = self.remove(&ids) {
                    eprintln!("bench: removing berth's containers: {e:#}");
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("bench: listing berth's containers: {e:#}"),
        }
        if let Err(e) = crate::sweep::remove_networks(&self.root, Some(&self.tag)) {
            eprintln!("bench: removing berth's networks: {e:#}");
        }
    }
}
