//! `pull`: walk the image graph from a reference down to unpacked layers.
//!
//! reference -> (index ->) manifest -> config + layers. Every document is
//! checked against the digest that named it; layers are downloaded in
//! parallel, each into the content store first (hashed on the way, renamed
//! to its digest only if it matches), then unpacked from there: a layer's
//! bytes are never applied before their digest is verified, as containerd
//! does. The uncompressed stream is hashed again while it is unpacked
//! into a private directory, published under its diff_id only if it
//! matches.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::digest::{Digest, Verifier};
use crate::error::{Result, engine};
use crate::manifest::{
    self, Compression, Descriptor, ImageConfig, Index, Kind, Manifest, parse_json,
};
use crate::platform::Platform;
use crate::progress::{LayerProgress, Progress};
use crate::reference::Reference;
use crate::registry::{self, Session};
use crate::store::{self, ImageRecord, Store};
use crate::unpack::{self, Policy};

/// Image configs larger than this are refused.
pub const MAX_CONFIG: u64 = 16 << 20;
/// Layers downloaded at the same time.
pub const PARALLEL_LAYERS: usize = 3;

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub registry: registry::Options,
    pub platform: Platform,
    pub policy: Policy,
}

/// What a pull produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The name it is stored under (`images` shows it).
    pub name: String,
    pub manifest_digest: Digest,
    /// The digest the reference resolved to (index or manifest), as
    /// `docker pull` prints it.
    pub digest: Digest,
    pub config: ImageConfig,
    /// Unpacked layers, bottom first: overlay's lower directories.
    pub layers: Vec<PathBuf>,
    /// How many layers were already in the store.
    pub reused: usize,
}

// ANCHOR: pull
/// Pulls `reference` into `store`.
pub fn pull(
    store: &Store,
    reference: &Reference,
    options: &PullOptions,
    progress: &Progress,
) -> Result<Pulled> {
    let session = Session::connect(reference, &options.registry)?;
    let (media_type, bytes, digest) = session.manifest(&reference.manifest_reference())?;
    let resolved = digest.clone();
    let mut index_blob = None;
    let (manifest_bytes, manifest_digest) = match manifest::kind_of(&media_type)? {
        Kind::Manifest => (bytes, digest),
        Kind::Index => {
            let index: Index = parse_json("image index", &bytes)?;
            let chosen = manifest::select_platform(&index, &options.platform)?;
            let (media_type, manifest_bytes, manifest_digest) = session.manifest(&chosen.digest)?;
            if manifest::kind_of(&media_type)? != Kind::Manifest {
                return Err(engine(format!("{}: nested index refused", chosen.digest)));
            }
            check_size("manifest", chosen, manifest_bytes.len() as u64)?;
            index_blob = Some(bytes);
            (manifest_bytes, manifest_digest)
        }
    };
    let manifest: Manifest = parse_json("manifest", &manifest_bytes)?;
    manifest::check_config_media_type(&manifest.config.media_type)?;
    // Refuse unknown layer types before downloading anything.
    let compressions = manifest
        .layers
        .iter()
        .map(|l| manifest::layer_compression(&l.media_type))
        .collect::<Result<Vec<_>>>()?;

    let config_bytes = fetch_small_blob(store, &session, &manifest.config, MAX_CONFIG)?;
    let config: ImageConfig = parse_json("image config", &config_bytes)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(engine(format!(
            "invalid image: {} layers but {} diff_ids",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let diff_ids = config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d))
        .collect::<Result<Vec<_>>>()?;

    let jobs: Vec<Job> = manifest
        .layers
        .iter()
        .zip(&diff_ids)
        .zip(compressions)
        .map(|((descriptor, diff_id), compression)| Job {
            descriptor,
            diff_id,
            compression,
        })
        .collect();
    let reused = fetch_layers(store, &session, &jobs, &options.policy, progress)?;

    store.put_blob(&manifest_bytes, &manifest_digest)?;
    if let Some(index_bytes) = &index_blob {
        store.put_blob(index_bytes, &resolved)?;
    }
    let name = reference.to_string();
    let size = manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
    store.set_ref(
        &name,
        ImageRecord {
            manifest: manifest_digest.to_string(),
            index: index_blob.as_ref().map(|_| resolved.to_string()),
            size,
        },
    )?;
    Ok(Pulled {
        name,
        manifest_digest,
        digest: resolved,
        config,
        layers: diff_ids.iter().map(|d| store.layer_path(d)).collect(),
        reused,
    })
}
// ANCHOR_END: pull

fn check_size(what: &str, descriptor: &Descriptor, actual: u64) -> Result<()> {
    if descriptor.size != actual {
        return Err(engine(format!(
            "{what} {}: size mismatch: expected {} bytes, got {actual}",
            descriptor.digest, descriptor.size
        )));
    }
    Ok(())
}

/// A config: from the store if there, else downloaded, verified, stored.
fn fetch_small_blob(
    store: &Store,
    session: &Session,
    descriptor: &Descriptor,
    limit: u64,
) -> Result<Vec<u8>> {
    let digest = descriptor.digest()?;
    if descriptor.size > limit {
        return Err(engine(format!("{digest}: larger than {limit} bytes")));
    }
    if store.has_blob(&digest) {
        return store.read_blob(&digest);
    }
    let mut verifier = Verifier::new(session.blob(&digest)?, Some(descriptor.size));
    let mut bytes = Vec::new();
    verifier
        .read_to_end(&mut bytes)
        .map_err(|e| engine(format!("reading {digest}: {e}")))?;
    verifier.finish("config", &digest)?;
    store.put_blob(&bytes, &digest)?;
    Ok(bytes)
}

struct Job<'a> {
    descriptor: &'a Descriptor,
    diff_id: &'a Digest,
    compression: Compression,
}

/// Fetches the layers on a few threads; returns how many were reused.
fn fetch_layers(
    store: &Store,
    session: &Session,
    jobs: &[Job<'_>],
    policy: &Policy,
    progress: &Progress,
) -> Result<usize> {
    let next = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_LAYERS.min(jobs.len()) {
            scope.spawn(|| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    match fetch_layer(store, session, job, policy, progress) {
                        Ok(true) => {
                            reused.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(false) => {}
                        Err(e) => errors.lock().expect("not poisoned").push(e),
                    }
                }
            });
        }
    });
    match errors
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .next()
    {
        Some(e) => Err(e),
        None => Ok(reused.into_inner()),
    }
}

/// One layer: reused if unpacked already, else downloaded into the store
/// (unless there already) and verified, and only then unpacked. Returns
/// whether it was reused.
fn fetch_layer(
    store: &Store,
    session: &Session,
    job: &Job<'_>,
    policy: &Policy,
    progress: &Progress,
) -> Result<bool> {
    let digest = job.descriptor.digest()?;
    let bar = progress.layer(&digest, job.descriptor.size);
    if store.has_layer(job.diff_id) && store.has_blob(&digest) {
        bar.finish("Already exists");
        return Ok(true);
    }
    let result = download(store, session, job, &digest, &bar).and_then(|()| {
        let staging = store.layer_staging()?;
        unpack_blob(store, job, &digest, &staging, policy)
            .and_then(|()| store.commit_layer(&staging, job.diff_id))
            .inspect_err(|_| {
                let _ = store::remove_dir(&staging);
            })
    });
    match result {
        Ok(()) => {
            bar.finish("Pull complete");
            Ok(false)
        }
        Err(e) => {
            bar.finish("Failed");
            Err(e.context(format_args!("layer {digest}")))
        }
    }
}

/// Counts what is read on the progress bar.
struct Counted<'b, R> {
    inner: R,
    bar: &'b LayerProgress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

// ANCHOR: stream
/// Downloads the layer's blob into the store: network -> hash -> temporary
/// file, renamed to its digest only if hash and size match. A corrupt or
/// cut download leaves nothing under the digest, and nothing was unpacked.
fn download(
    store: &Store,
    session: &Session,
    job: &Job<'_>,
    digest: &Digest,
    bar: &LayerProgress,
) -> Result<()> {
    if store.has_blob(digest) {
        bar.inc(job.descriptor.size);
        return Ok(());
    }
    store.check_space(job.descriptor.size, &format!("the blob {digest}"))?;
    let mut writer = store.blob_writer()?;
    let body = Counted {
        inner: session.blob(digest)?,
        bar,
    };
    let mut blob = Verifier::new(body, Some(job.descriptor.size));
    io::copy(&mut blob, &mut writer).map_err(|e| store.write_error(digest, e))?;
    blob.finish("layer blob", digest)?;
    writer.commit(digest)
}

/// Unpacks a verified blob from the store: file -> decompress -> diff_id
/// hash -> tar unpack into `staging`, which the caller publishes under the
/// diff_id only if the uncompressed stream matched it (the config names the
/// diff_ids; the manifest, already verified, named the blob).
fn unpack_blob(
    store: &Store,
    job: &Job<'_>,
    digest: &Digest,
    staging: &std::path::Path,
    policy: &Policy,
) -> Result<()> {
    let path = store.blob_path(digest);
    let file = std::fs::File::open(&path)
        .map(io::BufReader::new)
        .map_err(|e| engine(format!("{}: {e}", path.display())))?;
    let decompressed: Box<dyn Read> = match job.compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(file)),
        Compression::Zstd => {
            Box::new(zstd::Decoder::new(file).map_err(|e| engine(format!("zstd: {e}")))?)
        }
    };
    let mut diff = Verifier::new(decompressed, None);
    unpack::unpack(&mut diff, staging, policy)?;
    diff.finish("uncompressed layer (diff_id)", job.diff_id)?;
    Ok(())
}
// ANCHOR_END: stream
