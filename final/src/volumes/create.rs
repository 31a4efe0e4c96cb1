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
    let labels = crate::create::parse_labels(&args.labels)?;
    let volumes = Volumes::open(engine)?;
    Ok(volumes.create(args.name.as_deref(), labels, options)?.name)
}

// ANCHOR: driver_options
/// The local driver's `-o`, checked before anything is made: a tmpfs made
/// fresh at each mount (`type=tmpfs`, `o=size=64m,uid=1000`), or a host
/// directory under a name (`type=none`, `o=bind`, `device=/path`).
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
    match get("type") {
        "tmpfs" => check_tmpfs_options(get("o"))?,
        "none" if get("o").split(',').any(|o| o == "bind" || o == "rbind") => {
            let device = std::path::Path::new(get("device"));
            if !device.is_absolute() || !device.is_dir() {
                return Err(Error::invalid(format!(
                    "volume device {:?} is not a directory: create it first",
                    get("device")
                )));
            }
        }
        other => {
            return Err(Error::invalid(format!(
                "volume type {other:?} is not supported: use -o type=tmpfs [-o o=size=64m], or -o type=none -o o=bind -o device=/path"
            )));
        }
    }
    Ok(options)
}

/// A tmpfs volume's `o=`: the tmpfs options the kernel takes as data.
fn check_tmpfs_options(o: &str) -> Result<()> {
    for word in o.split(',').filter(|w| !w.is_empty()) {
        let key = word.split_once('=').map_or(word, |(k, _)| k);
        if !matches!(
            key,
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks"
        ) {
            return Err(Error::invalid(format!(
                "unknown tmpfs option {word:?}: use size=, mode=, uid=, gid=, nr_inodes= or nr_blocks="
            )));
        }
    }
    Ok(())
}
// ANCHOR_END: driver_options

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Result<BTreeMap<String, String>> {
        driver_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_local_drivers_options() {
        let tmpfs = opts(&["type=tmpfs", "device=tmpfs", "o=size=64m,uid=1000"]).unwrap();
        assert_eq!(tmpfs["o"], "size=64m,uid=1000");
        assert!(opts(&["type=none", "o=bind", "device=/"]).is_ok());
        assert!(opts(&[]).unwrap().is_empty());
        for bad in [
            &["type=tmpfs", "o=size=1m,exec"][..],
            &["type=nfs", "device=:/x"],
            &["o=bind", "device=/"],
            &["type=none", "o=bind", "device=relative"],
            &["color=blue"],
            &["type"],
        ] {
            assert!(opts(bad).is_err(), "{bad:?}");
        }
    }
}
