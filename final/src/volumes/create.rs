//! `volume create [NAME]`: the local driver's directory, with labels.

use std::collections::BTreeMap;

use super::CreateArgs;
use super::store::Volumes;
use crate::context::Engine;
use crate::mounts::check_name;
use crate::{Error, Result};

/// Creates the volume and returns its name.
pub fn create(engine: &Engine, args: &CreateArgs) -> Result<String> {
    if args.driver != "local" {
        return Err(Error::invalid(format!(
            "volume driver {:?} is not supported: berth has the local driver",
            args.driver
        )));
    }
    let options = driver_options(&args.opts)?;
    if let Some(name) = &args.name {
        check_name(name)?;
    }
    let mut labels = BTreeMap::new();
    for label in &args.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        if key.is_empty() {
            return Err(Error::invalid(format!(
                "invalid label {label:?}: use KEY=VALUE"
            )));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    let volumes = Volumes::open(engine)?;
    Ok(volumes.create(args.name.as_deref(), labels, options)?.name)
}

// ANCHOR: driver_options
/// The local driver's `-o`: berth takes the bind form, a volume that is a
/// host directory under a name (`type=none`, `o=bind`, `device=/path`).
fn driver_options(opts: &[String]) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    for opt in opts {
        match opt.split_once('=') {
            Some((key @ ("type" | "o" | "device"), value)) => {
                options.insert(key.to_string(), value.to_string());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unknown volume option {opt:?}: the local driver takes type=, o= and device="
                )));
            }
        }
    }
    if options.is_empty() {
        return Ok(options);
    }
    let get = |k: &str| options.get(k).map(String::as_str).unwrap_or("");
    let bind = get("type") == "none" && get("o").split(',').any(|o| o == "bind");
    if !bind {
        return Err(Error::invalid(
            "berth's local driver mounts only host directories: -o type=none -o o=bind -o device=/path",
        ));
    }
    let device = std::path::Path::new(get("device"));
    if !device.is_absolute() || !device.is_dir() {
        return Err(Error::invalid(format!(
            "volume device {:?} is not a directory: create it first",
            get("device")
        )));
    }
    Ok(options)
}
// ANCHOR_END: driver_options
