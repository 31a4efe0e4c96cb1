//! Checks that a root filesystem exists and is a directory before we fork.

use std::path::{Path, PathBuf};

use crate::Error;

/// Returns the absolute path of `rootfs`, or an engine error (exit 125)
/// saying what is wrong with it.
pub fn check_rootfs(rootfs: &Path) -> Result<PathBuf, Error> {
    let meta = std::fs::metadata(rootfs).map_err(|e| {
        let message = format!("root filesystem {}: {}", rootfs.display(), describe_io(&e));
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(message),
            _ => Error::engine(message),
        }
    })?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "root filesystem {} is not a directory",
            rootfs.display()
        )));
    }
    std::fs::canonicalize(rootfs)
        .map_err(|e| Error::engine(format!("root filesystem {}: {e}", rootfs.display())))
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rootfs_is_an_engine_error() {
        let err = check_rootfs(Path::new("/nonexistent/berth-rootfs")).unwrap_err();
        assert_eq!(err.code, 125);
        assert_eq!(err.kind, crate::error::ErrorKind::NotFound);
        assert_eq!(
            err.message,
            "root filesystem /nonexistent/berth-rootfs: no such directory"
        );
    }

    #[test]
    fn a_file_is_not_a_rootfs() {
        let file = std::env::current_exe().unwrap();
        let err = check_rootfs(&file).unwrap_err();
        assert_eq!(err.code, 125);
        assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput);
        assert!(
            err.message.ends_with("is not a directory"),
            "{}",
            err.message
        );
    }
}
