//! Naming a block device the way the kernel's io files want it: `major:minor`.
//!
//! Docker takes `--device-read-bps /dev/sda:1mb`: a path and a rate. The
//! cgroup files take the device number instead (`8:0 rbps=1048576` on v2,
//! `8:0 1048576` on v1), which `stat` gives as `st_rdev`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use crate::units::parse_size;

/// A throttle on one block device: bytes per second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRate {
    /// The path the user gave (`/dev/vda`).
    pub path: PathBuf,
    pub major: u64,
    pub minor: u64,
    pub bytes_per_second: u64,
}

impl DeviceRate {
    /// `major:minor`, as the cgroup files spell a device.
    pub fn device(&self) -> String {
        format!("{}:{}", self.major, self.minor)
    }
}

/// Splits `/dev/sda:1mb` into the path and the rate in bytes.
pub fn split_device_rate(text: &str) -> Result<(PathBuf, u64), String> {
    let Some((path, rate)) = text.rsplit_once(':') else {
        return Err(format!(
            "invalid device rate {text:?}: use DEVICE:RATE, such as /dev/sda:1mb"
        ));
    };
    if !path.starts_with('/') {
        return Err(format!(
            "invalid device rate {text:?}: the device must be an absolute path such as /dev/sda"
        ));
    }
    let bytes = parse_size(rate).map_err(|e| format!("invalid device rate {text:?}: {e}"))?;
    Ok((PathBuf::from(path), bytes))
}

// ANCHOR: parse_device_rate
/// Parses `/dev/sda:1mb` and resolves the path to the device's numbers.
pub fn parse_device_rate(text: &str) -> Result<DeviceRate, String> {
    let (path, bytes_per_second) = split_device_rate(text)?;
    let meta = std::fs::metadata(&path)
        .map_err(|e| format!("device {}: {}", path.display(), crate::cgroup::describe(&e)))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{} is not a block device", path.display()));
    }
    let rdev = meta.rdev();
    Ok(DeviceRate {
        path,
        major: libc::major(rdev) as u64,
        minor: libc::minor(rdev) as u64,
        bytes_per_second,
    })
}
// ANCHOR_END: parse_device_rate

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_and_rate() {
        assert_eq!(
            split_device_rate("/dev/sda:1mb"),
            Ok((PathBuf::from("/dev/sda"), 1 << 20))
        );
        assert_eq!(
            split_device_rate("/dev/disk/by-id/x:512k"),
            Ok((PathBuf::from("/dev/disk/by-id/x"), 512 << 10))
        );
        assert!(
            split_device_rate("/dev/sda")
                .unwrap_err()
                .contains("DEVICE:RATE")
        );
        assert!(
            split_device_rate("sda:1m")
                .unwrap_err()
                .contains("absolute path")
        );
        assert!(
            split_device_rate("/dev/sda:fast")
                .unwrap_err()
                .contains("invalid size")
        );
    }

    #[test]
    fn only_block_devices() {
        assert_eq!(
            parse_device_rate("/dev/null:1m").unwrap_err(),
            "/dev/null is not a block device"
        );
        assert_eq!(
            parse_device_rate("/dev/berth-no-such-disk:1m").unwrap_err(),
            "device /dev/berth-no-such-disk: No such file or directory"
        );
    }
}
