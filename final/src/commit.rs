//! `commit`: a new image from a container's changes.
//!
//! Chapter 4's `commit` writes the changes as a layer directory in
//! overlay's format (whiteouts, opaque directories): that is the unpacked
//! layer chapter 6's store keeps. The same tree, with the whiteouts
//! spelled as the image format spells them (`.wh.NAME`, `.wh..wh..opq`),
//! is the layer's tar blob; its digest is the diff id. The new config is
//! the image's, with the container's process and one more diff id; the
//! new manifest is the image's with one more layer; a name points at it.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use ch04_overlay::whiteout::is_opaque;
use ch06_images::digest::Digest;
use ch06_images::reference::Reference;
use ch06_images::store::{ImageRecord, Store};
use serde_json::{Value, json};

use crate::context::Engine;
use crate::lookup::find;
use crate::pause::Frozen;
use crate::time::{now_nanos, rfc3339};
use crate::{Error, Result};

/// The layer's media type: an uncompressed tar (its digest is its diff id).
const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// What `commit` is asked for.
pub struct Request<'a> {
    pub container: &'a str,
    pub name: &'a str,
    pub message: Option<&'a str>,
    pub author: Option<&'a str>,
    pub pause: bool,
}

/// Commits; returns the new image's id (its config digest).
pub fn commit(engine: &Engine, request: &Request) -> Result<String> {
    let reference = Reference::parse(request.name)?;
    if reference.digest.is_some() {
        return Err(Error::invalid(format!(
            "{}: a commit is named REPO[:TAG], not by digest",
            request.name
        )));
    }
    let found = find(engine, request.container)?;
    let store = engine.images()?;
    let _frozen = if request.pause {
        Some(Frozen::freeze(&found)?)
    } else {
        None
    };
    // The record names the image by id (its config's digest): the
    // manifest is the one a name of that image points at.
    let name =
        crate::images::catalog::name_for_id(engine, &found.record.image_id, &found.record.image)?
            .ok_or_else(|| {
            Error::not_found(format!(
                "the container's image ({}) is no longer in the store: pull it again",
                found.record.image
            ))
        })?;
    let manifest = store.lookup(&name)?.manifest;
    let (old_manifest, old_config) = image_json(&store, &manifest)?;

    // The unpacked layer, by chapter 4 (staging is ours: a fresh name).
    let staging = store.layer_staging()?;
    let _ = std::fs::remove_dir(&staging);
    let layer = Staged(&staging);
    found.container.commit(&staging)?;
    let mut tar = Vec::new();
    write_layer(&staging, &mut tar)?;
    let diff_id = Digest::of(&tar);

    let mut config = old_config;
    let created = rfc3339(now_nanos());
    let p = &found.record.process;
    config["created"] = json!(created);
    if let Some(author) = request.author {
        config["author"] = json!(author);
    }
    let c = &mut config["config"];
    if !c.is_object() {
        *c = json!({});
    }
    c["Cmd"] = json!(p.cmd);
    c["Entrypoint"] = if p.entrypoint.is_empty() {
        Value::Null
    } else {
        json!(p.entrypoint)
    };
    c["Env"] = json!(p.env);
    c["WorkingDir"] = json!(p.workdir);
    c["User"] = json!(p.user);
    push(
        &mut config["rootfs"]["diff_ids"],
        json!(diff_id.to_string()),
    );
    push(
        &mut config["history"],
        json!({
            "created": created,
            "created_by": format!("berth commit {}", request.container),
            "comment": request.message.unwrap_or_default(),
        }),
    );
    let config_bytes = to_bytes(&config)?;
    let config_digest = Digest::of(&config_bytes);

    let mut manifest = old_manifest;
    push(
        &mut manifest["layers"],
        json!({"mediaType": LAYER_TAR, "digest": diff_id.to_string(), "size": tar.len()}),
    );
    manifest["config"]["digest"] = json!(config_digest.to_string());
    manifest["config"]["size"] = json!(config_bytes.len());
    let manifest_bytes = to_bytes(&manifest)?;
    let manifest_digest = Digest::of(&manifest_bytes);
    let size = manifest["config"]["size"].as_u64().unwrap_or(0)
        + manifest["layers"]
            .as_array()
            .map_or(0, |l| l.iter().filter_map(|d| d["size"].as_u64()).sum());

    // Blobs and layer first, the name last: a name never points at
    // something missing.
    store.put_blob(&tar, &diff_id)?;
    store.put_blob(&config_bytes, &config_digest)?;
    store.put_blob(&manifest_bytes, &manifest_digest)?;
    store.commit_layer(&staging, &diff_id)?;
    std::mem::forget(layer);
    store.set_ref(
        &reference.to_string(),
        ImageRecord {
            manifest: manifest_digest.to_string(),
            index: None,
            size,
        },
    )?;
    Ok(config_digest.to_string())
}

/// A staged layer directory, removed unless it was published.
struct Staged<'a>(&'a Path);

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        let _ = ch06_images::store::remove_dir(self.0);
    }
}

/// The raw manifest and config of the image with manifest `digest` (raw
/// JSON: fields chapter 6 does not model are kept).
fn image_json(store: &Store, manifest_digest: &str) -> Result<(Value, Value)> {
    let parse = |what: &str, bytes: &[u8]| -> Result<Value> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::engine(format!("the container's image {what}: {e}")))
    };
    let missing = |_| {
        Error::not_found(format!(
            "the container's image ({manifest_digest}) is no longer in the store: pull it again"
        ))
    };
    let manifest = parse(
        "manifest",
        &store
            .read_blob(&Digest::parse(manifest_digest)?)
            .map_err(missing)?,
    )?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .ok_or_else(|| Error::engine("the container's image manifest has no config"))?;
    let config = parse(
        "config",
        &store
            .read_blob(&Digest::parse(config_digest)?)
            .map_err(missing)?,
    )?;
    Ok((manifest, config))
}

fn push(array: &mut Value, item: Value) {
    if !array.is_array() {
        *array = json!([]);
    }
    if let Some(a) = array.as_array_mut() {
        a.push(item);
    }
}

fn to_bytes(value: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::engine(format!("encoding JSON: {e}")))
}

/// The layer directory as an image layer tar: overlay's whiteouts (0/0
/// character devices) become `.wh.NAME` files, an opaque directory gets
/// a `.wh..wh..opq` entry.
fn write_layer(dir: &Path, out: &mut Vec<u8>) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    append(&mut builder, dir, Path::new(""))?;
    builder
        .into_inner()
        .and_then(|w| w.flush())
        .map_err(|e| Error::engine(format!("writing the layer: {e}")))
}

fn append<W: Write>(builder: &mut tar::Builder<W>, host: &Path, name: &Path) -> Result<()> {
    let io = |e: std::io::Error| Error::engine(format!("layer {}: {e}", host.display()));
    let mut children: Vec<_> = std::fs::read_dir(host)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    children.sort();
    for child in children {
        let path = host.join(&child);
        let entry_name = name.join(&child);
        let meta = path.symlink_metadata().map_err(io)?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            let mut wh = child.clone();
            wh.clear();
            wh.push(".wh.");
            wh.push(&child);
            empty_file(builder, &name.join(wh))?;
            continue;
        }
        builder
            .append_path_with_name(&path, &entry_name)
            .map_err(io)?;
        if meta.is_dir() {
            if is_opaque(&path).unwrap_or(false) {
                empty_file(builder, &entry_name.join(".wh..wh..opq"))?;
            }
            append(builder, &path, &entry_name)?;
        }
    }
    Ok(())
}

fn empty_file<W: Write>(builder: &mut tar::Builder<W>, name: &Path) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, std::io::empty())
        .map_err(|e| Error::engine(format!("layer whiteout {}: {e}", name.display())))
}
