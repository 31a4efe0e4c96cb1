//! The content-addressed store: blobs by digest, layers by diff_id, and
//! the only mutable part, a table of references to manifest digests.
//!
//! ```text
//! <root>/blobs/sha256/<hex>     manifests, configs, compressed layers
//! <root>/layers/sha256/<hex>/   unpacked layers, named by diff_id
//! <root>/refs.json              "busybox:1.36" -> manifest digest
//! <root>/refs.lock              flock held while refs.json changes
//! ```
//!
//! A tag that moves to another image (a newer pull, `tag`) does not lose
//! the old one: if no other name reaches it, it stays under its digest
//! name (`busybox@sha256:...`), untagged ("dangling", as Docker says),
//! until `rmi` or `image prune` removes it; nothing is left unreachable.
//!
//! A blob appears under its name only after its content was hashed and
//! matched the name, so a name always means the right bytes; an
//! interrupted pull leaves at most a `.tmp-*` file that is never read.
//! The root is private (0700): unpacked layers keep the image's set-uid
//! binaries and device nodes, which no host user may reach.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use ch03_cgroups::ownership::lock_file;
use ch04_overlay::atomic::{publish, stale_temporaries, temp_name, write_atomic};
use ch04_overlay::private::private_dir;

use crate::digest::Digest;
use crate::error::{Error, Result, engine};
use crate::manifest::{ImageConfig, Index, Manifest, parse_json};

/// One image known by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The manifest for this host's platform.
    pub manifest: String,
    /// The index it was chosen from, if the reference named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Config plus compressed layers, in bytes.
    pub size: u64,
}

/// One line of `images`: one name of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// The name in the store, e.g. `127.0.0.1:5000/app:v1` or `app@sha256:...`.
    pub name: String,
    pub repository: String,
    /// `<none>` for a digest name.
    pub tag: String,
    /// What the name resolved to when pulled (index or manifest).
    pub digest: String,
    /// The image's id, as Docker's: its config's digest.
    pub id: String,
    /// When the image was built (the config's `created`), if it says.
    pub created: Option<String>,
    pub size: u64,
}

/// What `rmi` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub untagged: String,
    pub blobs: Vec<Digest>,
    pub layers: Vec<Digest>,
    /// Bytes freed: the deleted blobs and unpacked layers.
    pub reclaimed: u64,
}

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn io_err(path: &Path, e: io::Error) -> crate::Error {
    engine(format!("{}: {e}", path.display()))
}

/// A blob being written: a temporary file next to its final name.
pub struct BlobWriter {
    file: Option<File>,
    temp: PathBuf,
    dir: PathBuf,
}

// ANCHOR: commit_blob
impl BlobWriter {
    /// Makes the blob visible under `digest`. The caller has verified the
    /// bytes; we make them durable before the rename publishes them.
    pub fn commit(mut self, digest: &Digest) -> Result<()> {
        let file = self.file.take().expect("committed once");
        let target = self.dir.join(digest.hex());
        // Durable, then renamed, then the rename itself durable: chapter
        // 4's atomic write, for a file written as it streams in.
        publish(file, &self.temp, &target).map_err(|e| io_err(&target, e))
    }
}
// ANCHOR_END: commit_blob

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    /// The root and its store directories are private (see chapter 4's
    /// [`private_dir`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        private_dir(&store.root)?;
        for dir in [store.root.join("blobs"), store.root.join("layers")] {
            private_dir(&dir)?;
        }
        for dir in [store.blob_dir(), store.layer_dir()] {
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            remove_stale_temporaries(&dir);
        }
        remove_stale_temporaries(&store.root);
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Refuses to write `bytes` of `what` when the store's filesystem has
    /// less free (for unprivileged users: root's reserve stays the host's).
    pub fn check_space(&self, bytes: u64, what: &str) -> Result<()> {
        let stat = nix::sys::statvfs::statvfs(&self.root)
            .map_err(|e| engine(format!("{}: {e}", self.root.display())))?;
        let free = (stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64);
        if bytes > free {
            return Err(engine(format!(
                "not enough disk space: {what} needs {bytes} bytes but only {free} are free \
                 on the filesystem of {}; free space there or use a state root on a larger \
                 filesystem",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// The error of a blob download that failed reading or writing; a full
    /// disk is said plainly.
    pub fn write_error(&self, digest: &Digest, e: io::Error) -> crate::Error {
        if matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)) {
            return engine(format!(
                "not enough disk space for the blob {digest} on the filesystem of {}; \
                 free space there or use a state root on a larger filesystem",
                self.root.display()
            ));
        }
        engine(format!("downloading {digest}: {e}"))
    }

    fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }

    fn layer_dir(&self) -> PathBuf {
        self.root.join("layers/sha256")
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blob_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| io_err(&path, e))
    }

    /// A temporary file in the blob directory (same filesystem: rename works).
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.blob_dir();
        let temp = dir.join(temp_name());
        let file = File::create(&temp).map_err(|e| io_err(&temp, e))?;
        Ok(BlobWriter {
            file: Some(file),
            temp,
            dir,
        })
    }

    /// Stores bytes already in memory, after checking them against `digest`.
    pub fn put_blob(&self, bytes: &[u8], digest: &Digest) -> Result<()> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(engine(format!(
                "digest mismatch: expected {digest}, got {actual}"
            )));
        }
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut writer = self.blob_writer()?;
        writer
            .write_all(bytes)
            .map_err(|e| engine(format!("writing blob {digest}: {e}")))?;
        writer.commit(digest)
    }

    /// The unpacked layer with this diff_id (an overlay lower directory).
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir().join(diff_id.hex())
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    /// A fresh private directory to unpack a layer into.
    pub fn layer_staging(&self) -> Result<PathBuf> {
        let path = self.layer_dir().join(temp_name());
        fs::create_dir(&path).map_err(|e| io_err(&path, e))?;
        Ok(path)
    }

    /// Publishes an unpacked, verified layer under its diff_id. If another
    /// pull got there first, ours is discarded: the content is the same.
    pub fn commit_layer(&self, staging: &Path, diff_id: &Digest) -> Result<()> {
        let target = self.layer_path(diff_id);
        if target.exists() {
            return remove_dir(staging);
        }
        fs::rename(staging, &target).map_err(|e| io_err(&target, e))
    }

    /// Takes the lock that serialises changes to the references.
    pub fn lock(&self) -> Result<Flock<File>> {
        lock_file(&self.root.join("refs.lock"), FlockArg::LockExclusive)
    }

    fn refs_path(&self) -> PathBuf {
        self.root.join("refs.json")
    }

    /// Every reference, by name. Read without the lock: the file is
    /// replaced atomically, never rewritten in place.
    pub fn refs(&self) -> Result<BTreeMap<String, ImageRecord>> {
        let path = self.refs_path();
        match fs::read(&path) {
            Ok(bytes) => parse_json("refs.json", &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    fn write_refs(&self, refs: &BTreeMap<String, ImageRecord>) -> Result<()> {
        let json = serde_json::to_vec_pretty(refs).expect("refs serialise");
        write_atomic(&self.refs_path(), &json)
    }

    // ANCHOR: tags
    /// Points `name` at an image (under the lock).
    pub fn set_ref(&self, name: &str, record: ImageRecord) -> Result<()> {
        let _lock = self.lock()?;
        let mut refs = self.refs()?;
        retarget(&mut refs, name, record);
        self.write_refs(&refs)
    }

    /// `tag`: `target` names the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut refs = self.refs()?;
        let record = refs
            .get(source)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such image: {source}")))?;
        retarget(&mut refs, target, record);
        self.write_refs(&refs)
    }

    /// Drops the name but keeps the image (`rmi -f` of an image a
    /// container uses): under its digest name if no other name reaches
    /// it, which is returned.
    pub fn untag(&self, name: &str) -> Result<Option<String>> {
        let _lock = self.lock()?;
        let mut refs = self.refs()?;
        let record = refs
            .remove(name)
            .ok_or_else(|| Error::not_found(format!("No such image: {name}")))?;
        let kept = keep_untagged(&mut refs, name, record);
        self.write_refs(&refs)?;
        Ok(kept)
    }
    // ANCHOR_END: tags

    /// The image behind `name`.
    pub fn lookup(&self, name: &str) -> Result<ImageRecord> {
        self.refs()?
            .remove(name)
            .ok_or_else(|| Error::not_found(format!("No such image: {name}")))
    }

    /// The manifest, config and unpacked layer directories (bottom first)
    /// of the image behind `name`: what chapter 4 stacks as lower layers.
    pub fn image(&self, name: &str) -> Result<(Manifest, ImageConfig, Vec<PathBuf>)> {
        let (manifest, config) = self.describe(&self.lookup(name)?)?;
        let mut layers = Vec::new();
        for diff_id in &config.rootfs.diff_ids {
            let path = self.layer_path(&Digest::parse(diff_id)?);
            if !path.is_dir() {
                return Err(engine(format!(
                    "{name}: layer {diff_id} is missing; pull again"
                )));
            }
            layers.push(path);
        }
        Ok((manifest, config, layers))
    }

    /// The manifest and config of an image; the config's digest
    /// (`manifest.config.digest`) is the image's id.
    pub fn describe(&self, record: &ImageRecord) -> Result<(Manifest, ImageConfig)> {
        let manifest: Manifest = parse_json(
            "manifest",
            &self.read_blob(&Digest::parse(&record.manifest)?)?,
        )?;
        let config: ImageConfig =
            parse_json("image config", &self.read_blob(&manifest.config.digest()?)?)?;
        Ok((manifest, config))
    }

    /// `images`: one row per reference.
    pub fn images(&self) -> Result<Vec<ImageRow>> {
        self.refs()?
            .into_iter()
            .map(|(name, record)| {
                let (manifest, config) = self.describe(&record)?;
                let (repository, tag) = split_name(&name);
                Ok(ImageRow {
                    repository,
                    tag,
                    digest: record.index.clone().unwrap_or(record.manifest.clone()),
                    id: manifest.config.digest,
                    created: config.created,
                    size: record.size,
                    name,
                })
            })
            .collect()
    }

    /// Everything an image record uses: blobs and unpacked layers.
    fn closure(&self, record: &ImageRecord) -> (BTreeSet<Digest>, BTreeSet<Digest>) {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        let mut manifests = Vec::new();
        if let Some(index) = record.index.as_deref().and_then(|d| Digest::parse(d).ok()) {
            if let Ok(parsed) = self
                .read_blob(&index)
                .and_then(|b| parse_json::<Index>("index", &b))
            {
                // Every platform's manifest we may have pulled.
                manifests.extend(parsed.manifests.iter().filter_map(|d| d.digest().ok()));
            }
            blobs.insert(index);
        }
        if let Ok(manifest) = Digest::parse(&record.manifest) {
            manifests.push(manifest);
        }
        for digest in manifests {
            let Ok(manifest) = self
                .read_blob(&digest)
                .and_then(|b| parse_json::<Manifest>("manifest", &b))
            else {
                continue;
            };
            blobs.insert(digest);
            blobs.extend(manifest.config.digest().ok());
            blobs.extend(manifest.layers.iter().filter_map(|l| l.digest().ok()));
            if let Ok(config) = manifest
                .config
                .digest()
                .and_then(|d| self.read_blob(&d))
                .and_then(|b| parse_json::<ImageConfig>("config", &b))
            {
                layers.extend(
                    config
                        .rootfs
                        .diff_ids
                        .iter()
                        .filter_map(|d| Digest::parse(d).ok()),
                );
            }
        }
        (blobs, layers)
    }

    // ANCHOR: remove
    /// `rmi`: drops the reference, then deletes the blobs and layers that
    /// no remaining reference reaches (found by walking every other image).
    pub fn remove(&self, name: &str) -> Result<Removed> {
        self.remove_unless_used(name, |_| Ok(Vec::new()))
    }

    /// [`Store::remove`], refused (nothing changed) when a layer it would
    /// delete is a lower layer of a container: `used_by(layer)` names them.
    pub fn remove_unless_used(
        &self,
        name: &str,
        used_by: impl Fn(&Path) -> Result<Vec<String>>,
    ) -> Result<Removed> {
        let _lock = self.lock()?;
        let mut refs = self.refs()?;
        let record = refs
            .remove(name)
            .ok_or_else(|| Error::not_found(format!("No such image: {name}")))?;
        let (mut blobs, mut layers) = self.closure(&record);
        for other in refs.values() {
            let (used_blobs, used_layers) = self.closure(other);
            blobs.retain(|b| !used_blobs.contains(b));
            layers.retain(|l| !used_layers.contains(l));
        }
        for layer in &layers {
            let containers = used_by(&self.layer_path(layer))?;
            if let Some(container) = containers.first() {
                return Err(Error::conflict(format!(
                    "conflict: unable to remove {name}: container {container} \
                     stands on its layer {}; remove the container first (rm {container})",
                    layer.short()
                )));
            }
        }
        self.write_refs(&refs)?;
        let mut removed = Removed {
            untagged: name.to_string(),
            ..Removed::default()
        };
        for layer in layers {
            let path = self.layer_path(&layer);
            if path.exists() {
                removed.reclaimed += tree_size(&path);
                remove_dir(&path)?;
                removed.layers.push(layer);
            }
        }
        for blob in blobs {
            let path = self.blob_path(&blob);
            if let Ok(meta) = fs::metadata(&path) {
                fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
                removed.reclaimed += meta.len();
                removed.blobs.push(blob);
            }
        }
        Ok(removed)
    }
    // ANCHOR_END: remove
}

/// Points `name` at `record`; the image it named before stays under its
/// digest name when no other name reaches it.
fn retarget(refs: &mut BTreeMap<String, ImageRecord>, name: &str, record: ImageRecord) {
    if let Some(old) = refs.insert(name.to_string(), record) {
        keep_untagged(refs, name, old);
    }
}

/// Keeps `record`, which `name` no longer names, as `repository@manifest`
/// unless another name reaches its manifest; the name it was kept under.
fn keep_untagged(
    refs: &mut BTreeMap<String, ImageRecord>,
    name: &str,
    record: ImageRecord,
) -> Option<String> {
    if refs.values().any(|r| r.manifest == record.manifest) {
        return None;
    }
    let kept = format!("{}@{}", split_name(name).0, record.manifest);
    refs.insert(kept.clone(), record);
    Some(kept)
}

/// The bytes of the regular files under `path` (what deleting it frees).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Deletes the temporaries in `dir` whose writer is gone (chapter 4's
/// [`stale_temporaries`]): what a killed pull left behind, blobs and layer
/// directories. A live pull's temporaries are left alone.
fn remove_stale_temporaries(dir: &Path) {
    for path in stale_temporaries(dir) {
        if path.is_dir() {
            let _ = remove_dir(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Removes a directory tree, including read-only directories in it.
pub fn remove_dir(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            // Unpacked layers may hold 0555 directories; open them up first.
            make_writable(path);
            fs::remove_dir_all(path).map_err(|e| io_err(path, e))
        }
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::symlink_metadata(path)
        && meta.is_dir()
    {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(path) {
            for entry in entries.flatten() {
                make_writable(&entry.path());
            }
        }
    }
}

/// `127.0.0.1:5000/app:v1` -> (`127.0.0.1:5000/app`, `v1`); digests show `<none>`.
fn split_name(name: &str) -> (String, String) {
    let base = name.split('@').next().unwrap_or(name);
    let slash = base.rfind('/').map_or(0, |i| i + 1);
    match base[slash..].rfind(':') {
        Some(i) if !name.contains('@') => (
            base[..slash + i].to_string(),
            base[slash + i + 1..].to_string(),
        ),
        Some(i) => (base[..slash + i].to_string(), "<none>".into()),
        None => (base.to_string(), "<none>".into()),
    }
}

/// Sizes as `docker images` prints them: decimal units, 4 significant digits.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let text = format!("{value:.*}", 4 - digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", units[unit])
}

/// The `images` table.
pub fn render_images(rows: &[ImageRow]) -> String {
    let mut out = format!(
        "{:<40} {:<10} {:<71} {}\n",
        "REPOSITORY", "TAG", "DIGEST", "SIZE"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<40} {:<10} {:<71} {}\n",
            row.repository,
            row.tag,
            row.digest,
            human_size(row.size)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store.lookup("busybox:latest").unwrap_err();
        assert_eq!(err.kind, ch01_chroot::ErrorKind::NotFound);
        assert_eq!(err.message, "No such image: busybox:latest");
        let err = store
            .remove_unless_used("busybox:latest", |_| Ok(Vec::new()))
            .unwrap_err();
        assert_eq!(err.kind, ch01_chroot::ErrorKind::NotFound);
        let err = crate::reference::Reference::parse("Busybox").unwrap_err();
        assert_eq!(err.kind, ch01_chroot::ErrorKind::InvalidInput);
    }

    #[test]
    fn blobs_appear_only_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Digest::of(b"hello");
        assert!(store.put_blob(b"hellO", &d).is_err());
        assert!(!store.has_blob(&d));
        store.put_blob(b"hello", &d).unwrap();
        assert_eq!(store.read_blob(&d).unwrap(), b"hello");
        // An abandoned writer leaves nothing behind.
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        let names: Vec<_> = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn stale_temporaries_of_dead_pulls_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs/sha256");
        fs::create_dir_all(&blobs).unwrap();
        // pid 0x7ffffffe is beyond pid_max: no such process.
        fs::write(blobs.join(".tmp-2147483646-0"), b"partial").unwrap();
        let live = format!(".tmp-{}-99", std::process::id());
        fs::write(blobs.join(&live), b"in progress").unwrap();
        Store::open(dir.path()).unwrap();
        assert!(!blobs.join(".tmp-2147483646-0").exists());
        assert!(blobs.join(&live).exists());
    }

    /// A stored image with no layers: its config says `created`.
    fn fake_image(store: &Store, created: &str) -> ImageRecord {
        let config = format!(
            r#"{{"created":"{created}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
        );
        let config_digest = Digest::of(config.as_bytes());
        store.put_blob(config.as_bytes(), &config_digest).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
            crate::manifest::OCI_CONFIG,
            config.len()
        );
        let manifest_digest = Digest::of(manifest.as_bytes());
        store
            .put_blob(manifest.as_bytes(), &manifest_digest)
            .unwrap();
        ImageRecord {
            manifest: manifest_digest.to_string(),
            index: None,
            size: 1,
        }
    }

    #[test]
    fn a_moved_tag_leaves_the_old_image_untagged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old = fake_image(&store, "2020-01-01T00:00:00Z");
        let new = fake_image(&store, "2021-01-01T00:00:00Z");
        store.set_ref("app:v1", old.clone()).unwrap();
        store.tag("app:v1", "app:stable").unwrap();
        // Moving one of two names keeps nothing extra: the other reaches it.
        store.set_ref("app:v1", new.clone()).unwrap();
        assert_eq!(store.refs().unwrap().len(), 2);
        // Moving the last name keeps the image under its digest name.
        store.tag("app:v1", "app:stable").unwrap();
        let refs = store.refs().unwrap();
        let kept = format!("app@{}", old.manifest);
        assert_eq!(refs.get(&kept), Some(&old), "{refs:?}");
        let rows = store.images().unwrap();
        let row = rows.iter().find(|r| r.name == kept).unwrap();
        assert_eq!(
            (row.repository.as_str(), row.tag.as_str()),
            ("app", "<none>")
        );
        assert_eq!(row.created.as_deref(), Some("2020-01-01T00:00:00Z"));
        assert!(row.id.starts_with("sha256:"));
        // untag: one of two names just goes; the last stays as a digest name.
        assert_eq!(store.untag("app:stable").unwrap(), None);
        assert_eq!(
            store.untag("app:v1").unwrap(),
            Some(format!("app@{}", new.manifest))
        );
        let err = store.tag("app:nope", "app:x").unwrap_err();
        assert_eq!(err.message, "No such image: app:nope");
        // rmi of both digest names leaves an empty store.
        for name in store.refs().unwrap().into_keys() {
            assert!(store.remove(&name).unwrap().reclaimed > 0);
        }
        assert!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[test]
    fn names_and_sizes() {
        assert_eq!(
            split_name("busybox:latest"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_name("127.0.0.1:5000/app:v1"),
            ("127.0.0.1:5000/app".into(), "v1".into())
        );
        assert_eq!(
            split_name("127.0.0.1:5000/app@sha256:00"),
            ("127.0.0.1:5000/app".into(), "<none>".into())
        );
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(1_500), "1.5kB");
    }
}
