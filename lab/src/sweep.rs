//! Chapter 5's sweeper (`lab-sweep`), run as a program: the lab links no
//! chapter, so `cargo lab` builds while a learner's chapter does not, and
//! only the commands that need chapter 5 (clean's networks, the suite's
//! leftover check, the demo and the bench) need it to build.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use crate::paths;

/// Builds and runs `lab-sweep ARGS`; its lines. Its warnings reach our stderr.
pub fn sweeper(args: &[&str]) -> Result<Vec<String>> {
    let out = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args(["run", "--quiet", "--package", "lab-sweep", "--"])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo run -p lab-sweep")?;
    if !out.status.success() {
        bail!(
            "chapter 5's sweeper failed (`cargo run -p lab-sweep -- {}`; a chapter that \
             does not build stops it: fix the chapter or `cargo lab exercise reset` it)",
            args.join(" ")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// Chapter 5's names the lab needs.
#[derive(Debug, Clone)]
pub struct Constants {
    /// The variable that gives a run its own bridge and chains.
    pub tag_var: String,
    /// Chapter 5's binary's default state root.
    pub chapter_root: String,
}

/// [`Constants`], asked once per process.
pub fn constants() -> Result<&'static Constants> {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    if let Some(c) = CONSTANTS.get() {
        return Ok(c);
    }
    let line = sweeper(&["constants"])?.join("");
    let json: serde_json::Value = serde_json::from_str(&line).context("lab-sweep constants")?;
    let field = |name: &str| {
        json[name]
            .as_str()
            .map(String::from)
            .with_context(|| format!("lab-sweep constants: no {name}"))
    };
    let found = Constants {
        tag_var: field("tag_var")?,
        chapter_root: field("chapter_root")?,
    };
    Ok(CONSTANTS.get_or_init(|| found))
}

/// Chapter 5's variable that gives a run its own bridge and chains.
pub fn tag_var() -> Result<&'static str> {
    Ok(constants()?.tag_var.as_str())
}

/// Removes every network of state root `root` (tagged with `tag`, if any).
pub fn remove_networks(root: &std::path::Path, tag: Option<&str>) -> Result<Vec<String>> {
    let root = root.display().to_string();
    let mut args = vec!["remove-networks", root.as_str()];
    if let Some(tag) = tag {
        args.extend(["--tag", tag]);
    }
    sweeper(&args)
}
