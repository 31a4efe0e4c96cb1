//! runc in the bench, when it is installed (nothing is installed for it):
//! an OCI bundle made from a copy of the fixture root and the config
//! `runc spec` writes, changed to run `/bin/echo x` without a terminal; the
//! spec's namespaces stay as they are, so the container gets a network
//! namespace of its own with only loopback, like `--network none`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::vm::packages::find_program;

/// A bundle and a runc state directory of the bench's own.
pub struct Runc {
    bin: PathBuf,
    bundle: PathBuf,
    state: PathBuf,
    id: String,
}

impl Runc {
    /// The bundle under `dir`, or `None` when `runc` is not on PATH.
    pub fn prepare(dir: &Path, rootfs: &Path) -> Result<Option<Runc>> {
        let Some(bin) = find_program("runc") else {
            return Ok(None);
        };
        let runc = Runc {
            bin,
            bundle: dir.join("bundle"),
            state: dir.join("state"),
            id: format!("berth-bench-{}", std::process::id()),
        };
        std::fs::create_dir_all(&runc.bundle)?;
        copy_tree(rootfs, &runc.bundle.join("rootfs"))?;
        runc.spec()?;
        Ok(Some(runc))
    }

    /// `runc spec`, then the changes: the command, no terminal, the root.
    fn spec(&self) -> Result<()> {
        let status = Command::new(&self.bin)
            .arg("spec")
            .arg("--bundle")
            .arg(&self.bundle)
            .status()
            .context("running runc spec")?;
        if !status.success() {
            bail!("runc spec failed ({status})");
        }
        let path = self.bundle.join("config.json");
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        config["process"]["args"] = serde_json::json!(super::COMMAND);
        config["process"]["terminal"] = serde_json::json!(false);
        config["root"]["path"] = serde_json::json!("rootfs");
        let namespaces = config["linux"]["namespaces"].as_array();
        if !namespaces.is_some_and(|ns| ns.iter().any(|n| n["type"] == "network")) {
            bail!("runc spec wrote no network namespace: its containers would share the host's");
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        Ok(())
    }

    /// `runc --root STATE run --bundle BUNDLE ID`: runs, waits, deletes.
    pub fn run_command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--root")
            .arg(&self.state)
            .arg("run")
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(&self.id)
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        command
    }
}

impl Drop for Runc {
    /// A run that failed half-way may leave its container: delete it.
    fn drop(&mut self) {
        if !self.state.join(&self.id).exists() {
            return;
        }
        let _ = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "--force", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `cp -a FROM TO`: the fixture keeps its owners, modes and links.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!("copying {} to {} failed", from.display(), to.display());
    }
    Ok(())
}
