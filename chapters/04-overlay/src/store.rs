//! Containers under a state root: create, find, list, mount, remove.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use ch03_cgroups::ownership::lock_file;
use nix::fcntl::{Flock, FlockArg};

use crate::atomic::write_atomic_volatile;
use crate::diff::Change;
use crate::idmapped::{self, IdMapping, MapNamespace};
use crate::lowers::Lowers;
use crate::mount::{bind_read_only, is_mounted, mount_points, unmount};
use crate::options::check_layer_count;
use crate::owner::Owner;
use crate::state::{self, CONTAINERS, Config, MERGED, PID, UPPER, WORK};
use crate::storage::Storage;
use crate::{Error, commit, diff, fscheck, id, overlay::Overlay, vfs};

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// The read-only layers, lowest first (a plain rootfs is one layer).
    pub lowers: Vec<PathBuf>,
    pub name: Option<String>,
    pub storage: Storage,
    pub read_only: bool,
    pub auto_remove: bool,
    /// The id maps of the container's user namespace, if it has one: its
    /// root must own the image's files (see [`crate::idmapped`]).
    pub userns: Option<IdMapping>,
}

/// A state root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One container's state directory and metadata.
#[derive(Debug, Clone)]
pub struct Container {
    pub dir: PathBuf,
    pub config: Config,
}

/// A container directory whose record (`config.json`) is there but cannot
/// be read or parsed. It is never hidden and never swept: `ls` lists it,
/// and only `rm` naming its id removes it.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub dir: PathBuf,
    /// The directory's name: the container's id.
    pub id: String,
    /// Why the record cannot be read.
    pub error: Error,
}

/// Everything under a state root's `containers/`: the containers, and
/// those whose record is unreadable.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub containers: Vec<Container>,
    pub unreadable: Vec<Unreadable>,
}

/// What a name, id or id prefix designates.
#[derive(Debug, Clone)]
pub enum Found {
    Container(Container),
    Unreadable(Unreadable),
}

/// A mounted container root; unmounted when dropped (or by `unmount`).
#[derive(Debug)]
pub struct Mounted {
    merged: Option<PathBuf>,
    pid_file: PathBuf,
}

fn io_error(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let text = format!("{what} {}", path.display());
    move |e| Error::engine(format!("{text}: {e}"))
}

impl Store {
    /// Opens (creating if needed) the state root `root`.
    /// The root is private: upper directories hold whatever the containers
    /// made, set-uid root binaries included (see [`crate::private`]).
    pub fn open(root: &Path) -> Result<Store, Error> {
        crate::private::private_dir(root)?;
        let containers = root.join(CONTAINERS);
        std::fs::create_dir_all(&containers).map_err(io_error("creating state root", root))?;
        let root = std::fs::canonicalize(root).map_err(io_error("state root", root))?;
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join(CONTAINERS)
    }

    /// Serialises creations and removals (names must stay unique).
    pub(crate) fn lock(&self) -> Result<Flock<File>, Error> {
        lock_file(&self.root.join("lock"), FlockArg::LockExclusive)
    }

    // ANCHOR: create
    /// Creates a container: its directory, then its private root
    /// (overlay: empty upper and work directories; vfs: a full copy), then
    /// its metadata. A failure half-way removes what was made.
    pub fn create(&self, spec: &Spec) -> Result<Container, Error> {
        check_layer_count(spec.lowers.len())?;
        let lowers = fscheck::check_lowers(&spec.lowers)?;
        let _lock = self.lock()?;
        let id = id::new_id()?;
        let name = self.choose_name(spec.name.as_deref(), &id)?;
        let storage = self.storage_for(spec, &lowers)?;
        let dir = self.containers_dir().join(&id);
        std::fs::create_dir(&dir).map_err(io_error("creating", &dir))?;
        let config = Config {
            id,
            name,
            storage,
            lowers,
            created: state::now(),
            read_only: spec.read_only,
            auto_remove: spec.auto_remove,
            userns: spec.userns.clone(),
        };
        let container = Container { dir, config };
        match container.prepare() {
            Ok(()) => Ok(container),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&container.dir);
                Err(e)
            }
        }
    }
    // ANCHOR_END: create

    // ANCHOR: storage_for
    /// The storage a container gets: the one asked for, except that a
    /// container with a user namespace on a filesystem that cannot be
    /// idmapped gets a copy of its layers with shifted owners (vfs).
    fn storage_for(&self, spec: &Spec, lowers: &[PathBuf]) -> Result<Storage, Error> {
        let (Storage::Overlay, Some(mapping)) = (spec.storage, &spec.userns) else {
            return Ok(spec.storage);
        };
        let ns = MapNamespace::new(mapping)?;
        let mut paths: Vec<&Path> = lowers.iter().map(PathBuf::as_path).collect();
        let containers = self.containers_dir();
        paths.push(&containers);
        if idmapped::supported(&paths, &ns) {
            return Ok(Storage::Overlay);
        }
        ch01_chroot::events::notice(format!(
            "the filesystem under {} cannot be idmapped: the layers are copied \
             with their owners shifted for the user namespace (vfs)",
            self.root.display()
        ));
        Ok(Storage::Vfs)
    }
    // ANCHOR_END: storage_for

    fn choose_name(&self, wanted: Option<&str>, id: &str) -> Result<String, Error> {
        let taken: Vec<String> = self.list()?.into_iter().map(|c| c.config.name).collect();
        if let Some(name) = wanted {
            id::check_name(name)?;
            if taken.iter().any(|t| t == name) {
                let other = self.find(name)?;
                return Err(Error::conflict(format!(
                    "the container name {name:?} is already in use by container {}: \
                     remove it (`rm {name}`) or choose another --name",
                    other.config.short_id()
                )));
            }
            return Ok(name.to_string());
        }
        (0..)
            .map(|attempt| id::generated_name(id, attempt))
            .find(|name| !taken.contains(name))
            .ok_or_else(|| Error::engine("no free container name"))
    }

    /// Every container with complete metadata, newest first. Containers
    /// whose record is unreadable are not here: see [`Store::scan`].
    pub fn list(&self) -> Result<Vec<Container>, Error> {
        Ok(self.scan()?.containers)
    }

    // ANCHOR: scan
    /// Every container directory: those with a record (newest first), and
    /// those whose record is there but unreadable. A directory without a
    /// record is a creation in progress, or one the sweep will remove.
    pub fn scan(&self) -> Result<Listing, Error> {
        let dir = self.containers_dir();
        let mut listing = Listing::default();
        for entry in std::fs::read_dir(&dir).map_err(io_error("reading", &dir))? {
            let entry = entry.map_err(io_error("reading", &dir))?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue; // not a container: a stray file
            }
            match Config::read_record(&entry.path()) {
                Ok(Some(config)) => listing.containers.push(Container {
                    dir: entry.path(),
                    config,
                }),
                Ok(None) => {}
                Err(error) => listing.unreadable.push(Unreadable {
                    dir: entry.path(),
                    id: entry.file_name().to_string_lossy().into_owned(),
                    error,
                }),
            }
        }
        listing.containers.sort_by(|a, b| {
            (b.config.created, &a.config.name).cmp(&(a.config.created, &b.config.name))
        });
        listing.unreadable.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(listing)
    }
    // ANCHOR_END: scan

    /// Finds a container by name, id, or unique id prefix (as Docker does).
    /// One whose record is unreadable is an error saying so (only `rm` can
    /// act on it: see [`Store::lookup`]).
    pub fn find(&self, key: &str) -> Result<Container, Error> {
        match self.lookup(key)? {
            Found::Container(c) => Ok(c),
            Found::Unreadable(u) => Err(u.unusable()),
        }
    }

    /// What `key` (a name, an id, or a unique id prefix) designates,
    /// unreadable containers included (by id only: their name is unknown).
    pub fn lookup(&self, key: &str) -> Result<Found, Error> {
        let Listing {
            containers,
            unreadable,
        } = self.scan()?;
        if let Some(c) = containers
            .iter()
            .find(|c| c.config.name == key || c.config.id == key)
        {
            return Ok(Found::Container(c.clone()));
        }
        if let Some(u) = unreadable.iter().find(|u| u.id == key) {
            return Ok(Found::Unreadable(u.clone()));
        }
        let prefix = |id: &str| !key.is_empty() && id.starts_with(key);
        let mut matches: Vec<Found> = containers
            .into_iter()
            .filter(|c| prefix(&c.config.id))
            .map(Found::Container)
            .collect();
        matches.extend(
            unreadable
                .into_iter()
                .filter(|u| prefix(&u.id))
                .map(Found::Unreadable),
        );
        match matches.len() {
            1 => Ok(matches.pop().expect("one")),
            0 => Err(Error::not_found(format!("no such container: {key}"))),
            n => Err(Error::invalid(format!(
                "{key} matches {n} containers: give more of the id"
            ))),
        }
    }

    /// Removes what `key` designates, a container with an unreadable
    /// record included: `rm` names it, so the user asked for it.
    pub fn remove_key(&self, key: &str) -> Result<(), Error> {
        match self.lookup(key)? {
            Found::Container(c) => self.remove(&c),
            Found::Unreadable(u) => self.remove_unreadable(&u),
        }
    }

    /// Removes a container whose record is unreadable, unless a live
    /// process uses it.
    pub fn remove_unreadable(&self, container: &Unreadable) -> Result<(), Error> {
        let _lock = self.lock()?;
        if let Some(pid) = in_use_by(&container.dir.join(PID)) {
            return Err(Error::busy(format!(
                "container {} is in use by process {pid}: stop it first",
                container.short_id()
            )));
        }
        remove_dir(&container.dir)
    }

    /// Renames a container; the new name must be free (names are
    /// reserved under the store's lock, as at creation).
    pub fn rename(&self, container: &Container, name: &str) -> Result<(), Error> {
        id::check_name(name)?;
        let _lock = self.lock()?;
        if let Some(other) = self.list()?.into_iter().find(|c| c.config.name == name) {
            return Err(Error::conflict(format!(
                "the container name {name:?} is already in use by container {}",
                other.config.short_id()
            )));
        }
        let mut config = Config::load(&container.dir)?;
        config.name = name.to_string();
        config.save(&container.dir)
    }

    // ANCHOR: remove
    /// Removes a container: unmounts its root, then deletes its directory.
    pub fn remove(&self, container: &Container) -> Result<(), Error> {
        let _lock = self.lock()?;
        if let Some(pid) = in_use_by(&container.pid_file()) {
            return Err(Error::busy(format!(
                "container {} is in use by process {pid}: stop it first",
                container.config.short_id()
            )));
        }
        remove_dir(&container.dir)
    }
    // ANCHOR_END: remove
}

/// The live process, other than this one, recorded in `pid_file`.
fn in_use_by(pid_file: &Path) -> Option<u32> {
    Owner::read(pid_file)
        .filter(Owner::is_alive)
        .map(|o| o.pid)
        .filter(|p| *p != std::process::id())
}

impl Unreadable {
    pub fn short_id(&self) -> &str {
        id::short_id(&self.id)
    }

    /// The warning a caller shows (`ls`): what is wrong, and the way out.
    pub fn warning(&self) -> String {
        format!(
            "container {} is kept but unreadable ({}): `rm {}` removes it",
            self.short_id(),
            self.error.message,
            self.short_id()
        )
    }

    /// The error of a command that needs the record (`diff`, `commit`).
    fn unusable(&self) -> Error {
        self.error.clone().with_message(format!(
            "container {}: {}; `rm {}` removes it",
            self.short_id(),
            self.error.message,
            self.short_id()
        ))
    }
}

impl Listing {
    /// One warning per unreadable container, for the caller to show.
    pub fn warnings(&self) -> Vec<String> {
        self.unreadable.iter().map(Unreadable::warning).collect()
    }
}

/// Unmounts everything under `dir`, then deletes it; refuses to delete
/// through a mount that will not go (it could be someone's data).
pub(crate) fn remove_dir(dir: &Path) -> Result<(), Error> {
    let mut under: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    for mount in under {
        unmount(&mount)?;
    }
    if mount_points().iter().any(|m| m.starts_with(dir)) {
        return Err(Error::busy(format!(
            "{} still has mounts inside: not removing it",
            dir.display()
        )));
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("removing", dir)(e)),
    }
}

impl Container {
    pub fn upper(&self) -> PathBuf {
        self.dir.join(UPPER)
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join(WORK)
    }
    /// The container's root filesystem: the mount point (overlay) or the copy (vfs).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join(MERGED)
    }
    pub fn lowers(&self) -> Lowers {
        Lowers::new(&self.config.lowers)
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join(PID)
    }

    /// The live process recorded as using this container, if any.
    pub fn user_pid(&self) -> Option<u32> {
        Owner::read(&self.pid_file())
            .filter(Owner::is_alive)
            .map(|o| o.pid)
    }

    /// Records this process as the user, atomically: a concurrent sweep
    /// never reads a half-written file.
    fn write_pid(&self) -> Result<(), Error> {
        write_atomic_volatile(&self.pid_file(), Owner::current().render().as_bytes())
    }

    /// Builds the private root, then writes the metadata (last). The `pid`
    /// file stays: the creating process owns the container until its
    /// mount guard is dropped (or it exits), so a concurrent run's sweep
    /// cannot take a `--rm` container between `create` and `mount`.
    fn prepare(&self) -> Result<(), Error> {
        self.write_pid()?;
        let top = self.config.lowers.last().expect("at least one lower");
        match self.config.storage {
            Storage::Overlay => {
                for dir in [self.upper(), self.work(), self.rootfs()] {
                    std::fs::create_dir(&dir).map_err(io_error("creating", &dir))?;
                }
                fscheck::check_upper_fs(&self.upper())?;
                // The merged root takes its mode and owner from the upper
                // directory's root: give it the image's.
                let meta = top.metadata().map_err(io_error("reading", top))?;
                let upper = self.upper();
                // (In host ids, as everything in upper: see `idmapped`.)
                let (uid, gid) = match &self.config.userns {
                    Some(mapping) => mapping.to_host(meta.uid(), meta.gid()),
                    None => (meta.uid(), meta.gid()),
                };
                lchown(&upper, Some(uid), Some(gid)).map_err(io_error("chown", &upper))?;
                std::fs::set_permissions(
                    &upper,
                    std::fs::Permissions::from_mode(meta.mode() & 0o7777),
                )
                .map_err(io_error("chmod", &upper))?;
            }
            Storage::Vfs => {
                vfs::materialize(&self.lowers(), &self.rootfs())
                    .map_err(|e| Error::engine(format!("vfs: copying the layers: {e}")))?;
                if let Some(mapping) = &self.config.userns {
                    let to_host = |u, g| mapping.to_host(u, g);
                    idmapped::shift(&self.rootfs(), &to_host).map_err(|e| {
                        Error::engine(format!(
                            "vfs: shifting the owners for the user namespace: {e}"
                        ))
                    })?;
                }
            }
        }
        self.config.save(&self.dir)
    }

    /// Gives up the creating process's hold (its `pid` file), so that
    /// another process may start the container later (an engine's
    /// `create`, then its monitor's `start`).
    pub fn disown(&self) -> Result<(), Error> {
        if Owner::read(&self.pid_file()).is_some_and(|o| o.pid == std::process::id()) {
            std::fs::remove_file(self.pid_file())
                .map_err(io_error("removing", &self.pid_file()))?;
        }
        Ok(())
    }

    // ANCHOR: mount
    /// Makes the root filesystem ready to enter: mounts the overlay (or,
    /// for vfs, only makes it read-only if asked) and records this process
    /// as its user until the returned guard is dropped.
    pub fn mount(&self) -> Result<Mounted, Error> {
        if let Some(pid) = self.user_pid().filter(|p| *p != std::process::id()) {
            return Err(Error::busy(format!(
                "container {} is already in use by process {pid}",
                self.config.short_id()
            )));
        }
        if is_mounted(&self.rootfs()) {
            return Err(Error::busy(format!(
                "container {} is already mounted at {}",
                self.config.short_id(),
                self.rootfs().display()
            )));
        }
        self.write_pid()?;
        let mut guard = Mounted {
            merged: None,
            pid_file: self.pid_file(),
        };
        match self.config.storage {
            Storage::Overlay => Overlay {
                lowers: self.config.lowers.clone(),
                upper: self.upper(),
                work: self.work(),
                merged: self.rootfs(),
                read_only: self.config.read_only,
                idmap: self.config.userns.clone(),
            }
            .mount()?,
            Storage::Vfs if self.config.read_only => bind_read_only(&self.rootfs())?,
            Storage::Vfs => return Ok(guard),
        }
        guard.merged = Some(self.rootfs());
        Ok(guard)
    }
    // ANCHOR_END: mount

    /// True while the root is mounted (overlay, or a read-only vfs root).
    pub fn is_mounted(&self) -> bool {
        is_mounted(&self.rootfs())
    }

    /// What the container changed, as `docker diff` lists it.
    pub fn diff(&self) -> Result<Vec<Change>, Error> {
        self.check_unshifted("diff")?;
        let result = match self.config.storage {
            Storage::Overlay => diff::overlay_diff(&self.upper(), &self.lowers()),
            Storage::Vfs => vfs::diff(&self.rootfs(), &self.lowers()),
        };
        result.map_err(|e| Error::engine(format!("diff of {}: {e}", self.config.short_id())))
    }

    /// Writes the container's changes to `dest` as a new layer.
    pub fn commit(&self, dest: &Path) -> Result<(), Error> {
        self.check_unshifted("commit")?;
        commit::commit(self, dest)
    }

    /// A vfs copy with shifted owners differs from its layers in every
    /// owner: what changed cannot be told from what was shifted.
    fn check_unshifted(&self, what: &str) -> Result<(), Error> {
        if self.config.storage == Storage::Vfs && self.config.userns.is_some() {
            return Err(Error::invalid(format!(
                "{what}: container {} is a copy of its layers with owners shifted for \
                 its user namespace (its filesystem cannot be idmapped): {what} works \
                 for containers without --userns=private, or on a filesystem with idmapped mounts",
                self.config.short_id()
            )));
        }
        Ok(())
    }
}

impl Mounted {
    /// Unmounts now, reporting a failure (dropping does it silently).
    pub fn unmount(mut self) -> Result<(), Error> {
        self.release()
    }

    fn release(&mut self) -> Result<(), Error> {
        let result = match self.merged.take() {
            Some(merged) => unmount(&merged),
            None => Ok(()),
        };
        let _ = std::fs::remove_file(&self.pid_file);
        result
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// The `ls` table of a whole listing: unreadable containers last, marked
/// so (the caller shows [`Listing::warnings`] too).
pub fn listing_table(listing: &Listing, now: u64) -> String {
    let mut out = table(&listing.containers, now);
    for u in &listing.unreadable {
        out.push_str(&format!(
            "{:<14} {:<20} {:<9} {:<7} {}\n",
            u.short_id(),
            "(unreadable)",
            "-",
            "-",
            "-"
        ));
    }
    out
}

/// The `ls` table.
pub fn table(containers: &[Container], now: u64) -> String {
    let mut out = format!(
        "{:<14} {:<20} {:<9} {:<7} {}\n",
        "CONTAINER ID", "NAME", "STORAGE", "LAYERS", "CREATED"
    );
    for c in containers {
        out.push_str(&format!(
            "{:<14} {:<20} {:<9} {:<7} {}\n",
            c.config.short_id(),
            c.config.name,
            c.config.storage.to_string(),
            c.config.lowers.len(),
            state::ago(now.saturating_sub(c.config.created)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch01_chroot::ErrorKind;

    /// A store in a temporary directory, and a one-file layer (vfs copies
    /// it: no mount, so this runs as any user).
    fn store_and_layer() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        std::fs::write(layer.join("hello"), "hi\n").unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        (dir, store, layer)
    }

    fn spec(layer: &Path, name: &str) -> Spec {
        Spec {
            lowers: vec![layer.to_path_buf()],
            name: Some(name.into()),
            storage: Storage::Vfs,
            ..Spec::default()
        }
    }

    #[test]
    fn an_unreadable_record_is_listed_kept_and_removed_on_request() {
        let (_dir, store, layer) = store_and_layer();
        let kept = store.create(&spec(&layer, "kept")).unwrap();
        std::fs::write(kept.dir.join(state::CONFIG), "{\"id\": trunc").unwrap();
        std::fs::remove_file(kept.pid_file()).unwrap();
        // A creation that never wrote its record: the sweep's to remove.
        let unfinished = store.containers_dir().join("f".repeat(64));
        std::fs::create_dir(&unfinished).unwrap();
        std::fs::write(store.containers_dir().join("stray"), "").unwrap();

        crate::sweep::sweep(&store).unwrap();
        assert!(
            kept.dir.exists(),
            "the sweep deleted an unreadable container"
        );
        assert!(!unfinished.exists(), "an unfinished creation stays");
        assert!(store.list().unwrap().is_empty());
        let listing = store.scan().unwrap();
        assert_eq!(listing.unreadable.len(), 1);
        assert_eq!(listing.unreadable[0].id, kept.config.id);
        let warnings = listing.warnings();
        assert!(warnings[0].contains("is damaged"), "{warnings:?}");
        let table = listing_table(&listing, 0);
        assert!(
            table.contains(&format!("{}   (unreadable)", kept.config.short_id())),
            "{table}"
        );

        let short = kept.config.short_id();
        let err = store.find(short).unwrap_err();
        assert!(err.message.contains(&format!("`rm {short}`")), "{err}");
        assert!(matches!(
            store.lookup(&kept.config.id),
            Ok(Found::Unreadable(_))
        ));
        store.remove_key(short).unwrap();
        assert!(!kept.dir.exists());
    }

    #[test]
    fn store_errors_carry_their_kind() {
        let (_dir, store, layer) = store_and_layer();
        let err = store.find("web").unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::NotFound, "no such container: web")
        );
        let web = store.create(&spec(&layer, "web")).unwrap();
        let err = store.create(&spec(&layer, "web")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
        let err = store.create(&spec(&layer, "-web")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
        let err = store.create(&spec(&layer.join("nope"), "db")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
        // Another live process (pid 1) uses it: busy, until it stops.
        std::fs::write(web.pid_file(), Owner::of_pid(1).unwrap().render()).unwrap();
        let err = store.remove(&web).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Busy, "{err}");
        std::fs::remove_file(web.pid_file()).unwrap();
        store.remove(&web).unwrap();
    }
}
