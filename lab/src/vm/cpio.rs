//! A writer for the `newc` cpio format, the only archive format the kernel
//! unpacks as an initramfs. Entries are owned by root, dated 1970, and
//! written in sorted order so the same tree always gives the same bytes.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes every entry below `root` (not `root` itself) to `out`, then the trailer.
pub fn write_tree(root: &Path, out: &mut impl Write) -> Result<()> {
    let mut writer = Writer { ino: 1 };
    writer.walk(root, Path::new(""), out)?;
    writer.entry(out, "TRAILER!!!", 0, &[])?;
    Ok(())
}

struct Writer {
    ino: u32,
}

impl Writer {
    fn walk(&mut self, root: &Path, relative: &Path, out: &mut impl Write) -> Result<()> {
        let dir = root.join(relative);
        let mut names: Vec<_> = fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let rel = relative.join(&name);
            let path = root.join(&rel);
            let meta = fs::symlink_metadata(&path)?;
            let archive_name = rel.to_string_lossy();
            let perm = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)?;
                let target = target.to_string_lossy();
                self.entry(out, &archive_name, 0o120000 | 0o777, target.as_bytes())?;
            } else if meta.is_dir() {
                self.entry(out, &archive_name, 0o040000 | perm, &[])?;
                self.walk(root, &rel, out)?;
            } else if meta.is_file() {
                let data =
                    fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                debug_assert_eq!(data.len() as u64, meta.size());
                self.entry(out, &archive_name, 0o100000 | perm, &data)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, out: &mut impl Write, name: &str, mode: u32, data: &[u8]) -> Result<()> {
        let ino = self.ino;
        self.ino += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let name_size = name.len() + 1;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
        // devminor, rdevmajor, rdevminor, namesize, check
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{name_size:08x}{:08x}",
            0,
            0,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            0
        );
        out.write_all(header.as_bytes())?;
        out.write_all(name.as_bytes())?;
        out.write_all(&[0])?;
        pad(out, header.len() + name_size)?;
        out.write_all(data)?;
        pad(out, data.len())?;
        Ok(())
    }
}

/// Pads to the next multiple of four bytes.
fn pad(out: &mut impl Write, len: usize) -> io::Result<()> {
    let padding = (4 - len % 4) % 4;
    out.write_all(&[0; 3][..padding])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_newc_archive() {
        let dir = std::env::temp_dir().join(format!("lab-cpio-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/hostname"), "lab\n").unwrap();
        std::os::unix::fs::symlink("etc", dir.join("link")).unwrap();
        let mut out = Vec::new();
        write_tree(&dir, &mut out).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        for name in ["etc\0", "etc/hostname\0", "lab\n", "link\0", "TRAILER!!!\0"] {
            assert!(text.contains(name), "{name:?} missing");
        }
    }
}
