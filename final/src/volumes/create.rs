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
    if let Some(opt) = args.opts.first() {
        return Err(Error::invalid(format!(
            "volume option {opt:?} is not supported: berth's local driver takes no -o yet"
        )));
    }
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
    Ok(volumes.create(args.name.as_deref(), labels)?.name)
}
