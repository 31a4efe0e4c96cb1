//! Test registries: the real one (Debian's `docker-registry`) started on
//! 127.0.0.1 with its storage in a temporary directory, skopeo to seed and
//! cross-check it, OCI image layouts built from the fixture, and a small
//! HTTP server for what a well-behaved registry never does (a token flow
//! in front of the real one, corrupted or truncated blobs, odd media types).
//!
//! Everything listens on 127.0.0.1 only and stops (by pid or by flag) when
//! its handle is dropped.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The registry binary of Debian's `docker-registry` package.
pub const REGISTRY_BIN: &str = "docker-registry";

/// A `docker-registry` process serving 127.0.0.1:`port`.
pub struct Registry {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Registry {
    /// Starts a registry with empty storage and waits until `/v2/` answers.
    pub fn start() -> Result<Registry> {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()?;
        let port = free_port()?;
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )?;
        let log = fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {REGISTRY_BIN}: install it with `apt-get install docker-registry`"
                )
            })?;
        let registry = Registry {
            port,
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if http_get_status(port, "/v2/").is_ok_and(|s| s == 200) {
                return Ok(registry);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = fs::read_to_string(registry._dir.path().join("registry.log")).unwrap_or_default();
        bail!("the test registry did not answer on 127.0.0.1:{port}: {log}")
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Only the process we started, by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

/// The status code of a plain `GET path` on 127.0.0.1:`port`.
pub fn http_get_status(port: u16, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status line")
}

/// Copies `oci:<layout>:<tag>` to `docker://<dest>` with skopeo, keeping
/// digests (`all` copies every platform of an index).
pub fn skopeo_push(layout: &Path, tag: &str, dest: &str, all: bool) -> Result<()> {
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--preserve-digests",
    ]);
    if all {
        cmd.arg("--all");
    }
    let out = cmd
        .arg(format!("oci:{}:{tag}", layout.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .context("running skopeo: install it with `apt-get install skopeo`")?;
    if !out.status.success() {
        bail!(
            "skopeo copy to {dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The digest skopeo computes for the manifest (or index) behind `reference`.
pub fn skopeo_digest(reference: &str) -> Result<String> {
    let out = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--tls-verify=false",
        ])
        .arg(format!("docker://{reference}"))
        .output()
        .context("running skopeo")?;
    if !out.status.success() {
        bail!(
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(sha256(&out.stdout))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

// ---------------------------------------------------------------- layers

/// Builds a layer tar deterministically (fixed owner and mtime).
pub struct LayerTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerTar {
    fn default() -> Self {
        Self::new()
    }
}

/// The mtime of every entry in test layers.
pub const LAYER_MTIME: u64 = 1_700_000_000;

impl LayerTar {
    pub fn new() -> LayerTar {
        LayerTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    /// Appends an entry with a raw name and link name: no checks, so tests
    /// can write `../evil` and `/etc/passwd`.
    pub fn raw(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        link: Option<&str>,
        data: &[u8],
        mode: u32,
    ) -> &mut Self {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(LAYER_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        let gnu = header.as_gnu_mut().expect("gnu header");
        assert!(name.len() < 100, "short names only: {name}");
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            assert!(link.len() < 100, "short link names only: {link}");
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        self.builder
            .append(&header, data)
            .expect("writing to memory");
        self
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(tar::EntryType::Directory, name, None, b"", 0o755)
    }

    /// A device node (`kind` Char or Block) with its numbers: hostile
    /// layers carry real devices, not only the 0/0 whiteouts.
    pub fn device(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        major: u32,
        minor: u32,
        mode: u32,
    ) -> &mut Self {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header.set_mode(mode);
        header.set_mtime(LAYER_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_device_major(major).expect("gnu header");
        header.set_device_minor(minor).expect("gnu header");
        header.set_path(name).expect("a plain name");
        header.set_cksum();
        self.builder
            .append(&header, io::empty())
            .expect("writing to memory");
        self
    }

    /// A PAX extended header giving the next entry these extended
    /// attributes (`SCHILY.xattr.<name>` records, as GNU tar writes them).
    pub fn xattrs(&mut self, xattrs: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (name, value) in xattrs {
            let key = format!("SCHILY.xattr.{name}");
            // "<len> <key>=<value>\n", where <len> counts its own digits.
            let rest = 1 + key.len() + 1 + value.len() + 1;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.raw(tar::EntryType::XHeader, "PaxHeaders/x", None, &data, 0o644)
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(tar::EntryType::Regular, name, None, data, 0o644)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(tar::EntryType::Symlink, name, Some(target), b"", 0o777)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(tar::EntryType::Link, name, Some(target), b"", 0o644)
    }

    /// A whiteout hiding `name` of lower layers.
    pub fn whiteout(&mut self, name: &str) -> &mut Self {
        let path = Path::new(name);
        let parent = path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = path.file_name().expect("a name").to_string_lossy();
        let entry = if parent.is_empty() {
            format!(".wh.{file}")
        } else {
            format!("{parent}/.wh.{file}")
        };
        self.file(&entry, b"")
    }

    /// Marks `dir` opaque: lower layers' contents of it are hidden.
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), b"")
    }

    /// Adds a whole directory tree (sorted, so the tar is reproducible).
    pub fn tree(&mut self, root: &Path) -> Result<&mut Self> {
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let mut names: Vec<_> = fs::read_dir(root.join(&rel))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            names.reverse();
            for name in names {
                let rel = rel.join(name);
                let full = root.join(&rel);
                let meta = fs::symlink_metadata(&full)?;
                let mut header = tar::Header::new_gnu();
                header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
                header.set_mtime(LAYER_MTIME);
                {
                    use std::os::unix::fs::PermissionsExt;
                    header.set_mode(meta.permissions().mode() & 0o7777);
                }
                if meta.is_dir() {
                    self.builder.append_data(&mut header, &rel, io::empty())?;
                    stack.push(rel);
                } else if meta.file_type().is_symlink() {
                    header.set_size(0);
                    self.builder
                        .append_link(&mut header, &rel, fs::read_link(&full)?)?;
                } else if meta.is_file() {
                    self.builder
                        .append_data(&mut header, &rel, fs::File::open(&full)?)?;
                }
            }
        }
        Ok(self)
    }

    /// The finished, uncompressed tar.
    pub fn finish(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().expect("finishing a tar in memory")
    }
}

/// How a layer is compressed in a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    pub fn compress(self, tar: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => tar.to_vec(),
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(tar).expect("in memory");
                enc.finish().expect("in memory")
            }
            Compression::Zstd => zstd::encode_all(tar, 3).expect("in memory"),
        }
    }
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Desc {
    pub fn json(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout directory being written (what skopeo reads as `oci:`).
pub struct Layout {
    pub dir: PathBuf,
    tags: Vec<serde_json::Value>,
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

impl Layout {
    pub fn create(dir: &Path) -> Result<Layout> {
        fs::create_dir_all(dir.join("blobs/sha256"))?;
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let layout = Layout {
            dir: dir.to_path_buf(),
            tags: Vec::new(),
        };
        layout.write_index()?;
        Ok(layout)
    }

    /// Stores a blob and returns its descriptor.
    pub fn blob(&mut self, media_type: &str, bytes: &[u8]) -> Result<Desc> {
        let digest = sha256(bytes);
        let path = self
            .dir
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..]);
        fs::write(path, bytes)?;
        Ok(Desc {
            media_type: media_type.to_string(),
            digest,
            size: bytes.len() as u64,
        })
    }

    /// Writes config and manifest for `layers` (uncompressed tars, bottom
    /// first); `cmd` becomes the config's Cmd.
    pub fn image(
        &mut self,
        layers: &[(Vec<u8>, Compression)],
        arch: &str,
        cmd: &[&str],
    ) -> Result<Desc> {
        self.image_with(layers, arch, cmd, None)
    }

    /// As [`Layout::image`], with every layer's media type replaced by
    /// `layer_media_type` when given (for refusing unknown types).
    pub fn image_with(
        &mut self,
        layers: &[(Vec<u8>, Compression)],
        arch: &str,
        cmd: &[&str],
        layer_media_type: Option<&str>,
    ) -> Result<Desc> {
        let config = json!({
            "Cmd": cmd,
            "Env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
            "WorkingDir": "/",
        });
        self.build(layers, arch, config, layer_media_type)
    }

    /// An image whose config's `config` (Entrypoint, Cmd, Env, WorkingDir,
    /// User...) is `container_config`.
    pub fn image_config(
        &mut self,
        layers: &[(Vec<u8>, Compression)],
        arch: &str,
        container_config: serde_json::Value,
    ) -> Result<Desc> {
        self.build(layers, arch, container_config, None)
    }

    fn build(
        &mut self,
        layers: &[(Vec<u8>, Compression)],
        arch: &str,
        container_config: serde_json::Value,
        layer_media_type: Option<&str>,
    ) -> Result<Desc> {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (tar, compression) in layers {
            diff_ids.push(sha256(tar));
            let media_type = layer_media_type.unwrap_or(compression.media_type());
            descs.push(self.blob(media_type, &compression.compress(tar))?.json());
        }
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": container_config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(OCI_CONFIG, &serde_json::to_vec(&config)?)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.json(),
            "layers": descs,
        });
        self.blob(OCI_MANIFEST, &serde_json::to_vec(&manifest)?)
    }

    /// An index of (manifest, architecture) pairs, all linux.
    pub fn index(&mut self, manifests: &[(Desc, &str)]) -> Result<Desc> {
        let entries: Vec<_> = manifests
            .iter()
            .map(|(desc, arch)| {
                let mut v = desc.json();
                v["platform"] = json!({"os": "linux", "architecture": arch});
                v
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        self.blob(OCI_INDEX, &serde_json::to_vec(&index)?)
    }

    /// Names `desc` `tag` in the layout's index.json.
    pub fn tag(&mut self, tag: &str, desc: &Desc) -> Result<()> {
        let mut v = desc.json();
        v["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.tags.push(v);
        self.write_index()
    }

    fn write_index(&self) -> Result<()> {
        let index = json!({"schemaVersion": 2, "manifests": self.tags});
        fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)?;
        Ok(())
    }

    /// The bytes of a blob in the layout.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        Ok(fs::read(
            self.dir
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )?)
    }

    /// The descriptor tagged `tag`.
    pub fn tagged(&self, tag: &str) -> Option<Desc> {
        self.tags
            .iter()
            .find(|t| t["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .map(|t| Desc {
                media_type: t["mediaType"].as_str().unwrap_or_default().to_string(),
                digest: t["digest"].as_str().unwrap_or_default().to_string(),
                size: t["size"].as_u64().unwrap_or_default(),
            })
    }
}

// ---------------------------------------------------------------- a small HTTP server

/// The busybox fixture as one layer.
pub fn fixture_layer() -> Result<Vec<u8>> {
    Ok(LayerTar::new().tree(&crate::fixture::ensure()?)?.finish())
}

/// The file the `layers` image adds in its second layer and deletes (a
/// whiteout) in its third.
pub const DELETED_FILE: &str = "/etc/deleted.txt";

/// The `layers` image: the fixture; a layer adding `/etc/deleted.txt` and
/// `/etc/kept.txt`; a layer deleting the first (whiteout) and replacing
/// `/www` (opaque directory); an uncompressed layer adding `/layer4.txt`.
pub fn layers_image(layout: &mut Layout, base: &[u8]) -> Result<Desc> {
    let adds = LayerTar::new()
        .dir("etc/")
        .file("etc/deleted.txt", b"gone soon\n")
        .file("etc/kept.txt", b"still here\n")
        .finish();
    let deletes = LayerTar::new()
        .dir("etc/")
        .whiteout("etc/deleted.txt")
        .dir("www/")
        .opaque("www")
        .file("www/new.html", b"new page\n")
        .finish();
    let plain = LayerTar::new()
        .file("layer4.txt", b"uncompressed\n")
        .finish();
    layout.image(
        &[
            (base.to_vec(), Compression::Gzip),
            (adds, Compression::Gzip),
            (deletes, Compression::Gzip),
            (plain, Compression::None),
        ],
        "amd64",
        &["/bin/sh"],
    )
}

/// Builds an OCI layout with the `layers` image in `dir`, and pushes it to
/// `registry` as `busybox:layers` (what `cargo lab demo` runs).
pub fn seed_layers(dir: &Path, registry: &Registry) -> Result<String> {
    let mut layout = Layout::create(dir)?;
    let desc = layers_image(&mut layout, &fixture_layer()?)?;
    layout.tag("layers", &desc)?;
    let reference = format!("{}/busybox:layers", registry.host());
    skopeo_push(dir, "layers", &reference, false)?;
    Ok(reference)
}

/// One request the test server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(|s| s.as_str())
    }
}

/// What the test server answers.
pub enum Reply {
    /// A response; `cut_after` closes the connection after that many body
    /// bytes although Content-Length promised all of them.
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        cut_after: Option<usize>,
    },
    /// Pass the request on to 127.0.0.1:`port` (without Authorization).
    Forward(u16),
}

impl Reply {
    pub fn status(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        Reply::Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            cut_after: None,
        }
    }
}

type Handler = dyn Fn(&Request, u16) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1, one thread per connection, stopped on drop.
pub struct HttpServer {
    pub port: u16,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `handler` (which receives the request and our own port).
    pub fn start(
        handler: impl Fn(&Request, u16) -> Reply + Send + Sync + 'static,
    ) -> Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handler = handler.clone();
                            let requests = requests.clone();
                            std::thread::spawn(move || {
                                let _ = serve(stream, &*handler, port, &requests);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Ok(HttpServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Request> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    port: u16,
    log: &Mutex<Vec<Request>>,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let request = Request {
        method,
        path,
        headers,
    };
    log.lock().expect("not poisoned").push(request.clone());
    let mut stream = stream;
    match handler(&request, port) {
        Reply::Response {
            status,
            headers,
            body,
            cut_after,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes())?;
            if request.method != "HEAD" {
                let end = cut_after.unwrap_or(body.len()).min(body.len());
                stream.write_all(&body[..end])?;
            }
            stream.flush()?;
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Reply::Forward(backend) => {
            let mut upstream = TcpStream::connect(("127.0.0.1", backend))?;
            let mut head = format!(
                "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{backend}\r\nConnection: close\r\n",
                request.method, request.path
            );
            for (k, v) in &request.headers {
                if !matches!(k.as_str(), "host" | "connection" | "authorization") {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
            }
            head.push_str("\r\n");
            upstream.write_all(head.as_bytes())?;
            io::copy(&mut upstream, &mut stream)?;
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
    Ok(())
}

/// A token service in front of a registry: `/v2/...` without a valid
/// Bearer token gets 401 and a challenge pointing at our `/token`, which
/// hands out a token (only for `credentials`, when given, sent as Basic).
pub fn token_proxy(backend: u16, credentials: Option<(&str, &str)>) -> Result<HttpServer> {
    static TOKENS: AtomicUsize = AtomicUsize::new(0);
    let token = format!(
        "berth-test-token-{}-{}",
        std::process::id(),
        TOKENS.fetch_add(1, Ordering::SeqCst)
    );
    let basic = credentials.map(|(u, p)| {
        let mut enc = String::new();
        let bytes = format!("{u}:{p}").into_bytes();
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                enc.push(if i <= chunk.len() {
                    A[(n >> (18 - 6 * i)) as usize & 63] as char
                } else {
                    '='
                });
            }
        }
        format!("Basic {enc}")
    });
    HttpServer::start(move |request, port| {
        if request.path.starts_with("/token") {
            let scoped = request.path.contains("scope=repository:")
                && request.path.contains("service=berth-test");
            let authorised = basic
                .as_deref()
                .is_none_or(|b| request.header("authorization") == Some(b));
            if !scoped || !authorised {
                return Reply::status(
                    401,
                    &[],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
                );
            }
            let body = json!({"token": token, "expires_in": 300}).to_string();
            return Reply::status(
                200,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
        }
        if request.header("authorization") == Some(&format!("Bearer {token}")) {
            return Reply::Forward(backend);
        }
        let challenge =
            format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"berth-test\"");
        Reply::status(
            401,
            &[
                ("WWW-Authenticate", challenge.as_str()),
                ("Content-Type", "application/json"),
            ],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
    })
}

/// How [`serve_layout`] misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Blobs whose bytes are altered (one byte flipped) when served.
    pub corrupt: Vec<String>,
    /// Blobs whose first download is cut after half of the bytes.
    pub cut_once: Vec<String>,
    /// Serve blobs by a redirect to this port on 127.0.0.1 (a "storage host").
    pub redirect_blobs_to: Option<u16>,
}

/// A fake registry serving an OCI layout directly: `/v2/`, manifests by
/// tag or digest, blobs by digest, with the given faults.
pub fn serve_layout(layout: &Layout, faults: Faults) -> Result<HttpServer> {
    let dir = layout.dir.clone();
    let tags: BTreeMap<String, Desc> = layout
        .tags
        .iter()
        .filter_map(|t| {
            let name = t["annotations"]["org.opencontainers.image.ref.name"].as_str()?;
            Some((name.to_string(), layout.tagged(name)?))
        })
        .collect();
    let cut_done = Arc::new(Mutex::new(Vec::<String>::new()));
    HttpServer::start(move |request, _| {
        let path = request.path.split('?').next().unwrap_or_default();
        if path == "/v2/" {
            return Reply::status(200, &[], b"{}");
        }
        let read = |digest: &str| {
            fs::read(
                dir.join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .ok()
        };
        if let Some((_, reference)) = path.split_once("/manifests/") {
            let desc = tags.get(reference).cloned().or_else(|| {
                let bytes = read(reference)?;
                let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
                Some(Desc {
                    media_type: v["mediaType"].as_str()?.to_string(),
                    digest: reference.to_string(),
                    size: bytes.len() as u64,
                })
            });
            return match desc.and_then(|d| Some((read(&d.digest)?, d))) {
                Some((bytes, desc)) => Reply::status(
                    200,
                    &[
                        ("Content-Type", &desc.media_type),
                        ("Docker-Content-Digest", &desc.digest),
                    ],
                    &bytes,
                ),
                None => Reply::status(
                    404,
                    &[],
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                ),
            };
        }
        if let Some((_, digest)) = path.split_once("/blobs/") {
            if let Some(port) = faults.redirect_blobs_to {
                let location = format!("http://127.0.0.1:{port}/storage/{digest}");
                return Reply::status(307, &[("Location", &location)], b"");
            }
            let Some(mut bytes) = read(digest) else {
                return Reply::status(
                    404,
                    &[],
                    br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
                );
            };
            if faults.corrupt.iter().any(|d| d == digest) {
                let last = bytes.len() - 1;
                bytes[last] ^= 0xff;
            }
            let mut cut_after = None;
            if faults.cut_once.iter().any(|d| d == digest) {
                let mut done = cut_done.lock().expect("not poisoned");
                if !done.iter().any(|d| d == digest) {
                    done.push(digest.to_string());
                    cut_after = Some(bytes.len() / 2);
                }
            }
            return Reply::Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                body: bytes,
                cut_after,
            };
        }
        Reply::status(404, &[], b"")
    })
}

/// A "storage host" serving a layout's blobs at `/storage/<digest>`.
pub fn serve_blobs(layout: &Layout) -> Result<HttpServer> {
    let dir = layout.dir.clone();
    HttpServer::start(move |request, _| {
        let digest = request.path.trim_start_matches("/storage/");
        match fs::read(
            dir.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        ) {
            Ok(bytes) => Reply::status(200, &[], &bytes),
            Err(_) => Reply::status(404, &[], b""),
        }
    })
}

/// Prefixes of the temporary directories the registry helpers and chapter
/// 6 and 7's tests create (under the system temporary directory).
pub const TEMP_PREFIXES: &[&str] = &["berth-registry-", "berth-ch06-", "berth-ch07-"];

/// `cargo lab clean`: stops test registries a killed test left running
/// (found by their config path, ended by pid) and removes their
/// directories. Returns one line per thing removed.
pub fn clean_leftovers() -> Vec<String> {
    let mut report = Vec::new();
    let tmp = std::env::temp_dir();
    let ours = tmp.join("berth-registry-").display().to_string();
    if let Ok(procs) = fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_test_registry = args.first().is_some_and(|a| a.ends_with(REGISTRY_BIN))
                && args.get(2).is_some_and(|c| c.starts_with(&ours));
            if is_test_registry {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
                report.push(format!("stopped test registry (pid {pid})"));
            }
        }
    }
    if let Ok(entries) = fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if TEMP_PREFIXES.iter().any(|p| name.starts_with(p))
                && fs::remove_dir_all(entry.path()).is_ok()
            {
                report.push(format!("removed {}", entry.path().display()));
            }
        }
    }
    report
}
