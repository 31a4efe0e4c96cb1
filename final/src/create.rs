//! `create`: everything a container needs before its first start, checked
//! before anything exists: the options, the image (pulled as `--pull`
//! says), the ports; then chapter 4's store creates the container (id,
//! name, directory, copy-on-write root) and the engine writes its record.
//! On any error after that, the container is removed: nothing half-made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ch02_namespaces::namespaces::Namespace;
use ch03_cgroups::run::online_cpus;
use ch06_images::runconfig;

use crate::cli::CreateArgs;
use crate::context::Engine;
use crate::lookup::Found;
use crate::record::{Host, Process, Record, State};
use crate::signal::parse_signal;
use crate::time::now_nanos;
use crate::{Error, Result};

// ANCHOR: create
/// Creates the container `args` describes. `stored` is the command line
/// it was given (options, image, command), kept in the record and parsed
/// again by the monitor at every start.
pub fn create(engine: &Engine, args: CreateArgs, mut stored: Vec<String>) -> Result<Found> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::engine(
            "berth needs root: run it with sudo (rootless containers are chapter 7's `ch07-security`)",
        ));
    }
    // The engine's own options first.
    let labels = parse_labels(&args.labels)?;
    let env_file = read_env_files(&args.env_files)?;
    let (log_max_size, log_max_files) = parse_log_opts(&args.log_opts)?;
    parse_signal(&args.stop_signal)?;
    let wanted = crate::mounts::parse_all(&args.volumes, &args.mounts, &args.tmpfs)?;
    let inherited = crate::mounts::volumes_from(engine, &args.volumes_from)?;
    if let Some(path) = &args.cidfile
        && path.exists()
    {
        return Err(Error::conflict(format!(
            "container ID file {} exists: remove it or choose another --cidfile",
            path.display()
        )));
    }
    let trailing = args.image.image_and_command.len();
    resolve_env_from_caller(&mut stored, trailing);
    // Then every chapter's, as the chapter binaries check them.
    let security = args.security.options()?;
    let storage = args.image.storage.clone();
    let interactive = args.interactive;
    let userns = &args.image.container;
    let (userns, explicit_maps) = (
        userns.userns,
        !userns.uid_map.is_empty() || !userns.gid_map.is_empty(),
    );
    let (mut spec, options) = args.image.into_run(engine.root.clone())?;
    // `--userns=private`: berth's range of /etc/subuid, fixed at create
    // (chapter 4 keeps it with the container: its files are shown to it).
    ch07_security::userns::apply(&mut spec, userns, explicit_maps, false)?;
    options.container.network.validate()?;
    // The networks must exist now, and an --ip must be one of theirs.
    let networks = crate::networks::connections(engine, &options.container.network)?;
    options
        .container
        .storage
        .cgroups
        .limits
        .validate(online_cpus())?;
    // A taken host port is refused now, not at start.
    drop(ch05_network::reserve::reserve(
        &options.container.network.ports,
    )?);

    let images = engine.images()?;
    let image = ch06_images::run::ensure_image(&images, &options)?;
    // Held until the container names the layers as its lowers (rmi waits).
    let image_lock = images.lock()?;
    let (manifest, config, layers) = images.image(&image)?;
    // Docker's image id: the config's digest (what `images` shows).
    let image_id = manifest.config.digest;
    let image_config = config.config.unwrap_or_default();
    // `-P`: chosen once, here, and kept as `-p` options, so every start
    // publishes the same host ports and `port` shows them.
    let mut ports = options.container.network.ports.clone();
    // (Only on a bridge network: with host or none there is nothing to
    // publish to, as Docker, which drops them.)
    let bridged = !networks.is_empty();
    if options.container.network.publish_all && bridged {
        let chosen = ch05_network::reserve::publish_all(&image_config.exposed(), &ports)?;
        for p in &chosen {
            stored.insert(0, format!("--publish={p}"));
        }
        ports.extend(chosen);
    }
    let mut overrides = options.overrides.clone();
    overrides.env = env_file.iter().cloned().chain(overrides.env).collect();
    let process = runconfig::resolve(&image_config, &overrides, |_| None)?;

    let mut spec_ch04 = storage.spec(layers);
    spec_ch04.userns = ch04_overlay::idmapped::IdMapping::of(&spec);
    // The engine's monitor removes a --rm container, not chapter 4's sweep.
    spec_ch04.auto_remove = false;
    // The image's `VOLUME`s nobody mounted become anonymous volumes.
    let image_volumes = image_config.volumes.iter().flat_map(|v| v.keys());
    let extra = crate::mounts::image_volumes(image_volumes, &wanted, &inherited);
    let wanted: Vec<_> = wanted.into_iter().chain(extra).collect();
    // Volumes and `-v`'s host directories: made now, everything checked.
    let (mut mounts, volumes_lock) = crate::mounts::resolve(engine, &wanted)?;
    mounts.extend(inherited);
    let container = match engine.containers()?.create(&spec_ch04) {
        Ok(c) => c,
        Err(e) => {
            drop(volumes_lock);
            crate::mounts::remove_anonymous(engine, &mounts);
            return Err(e);
        }
    };
    drop(image_lock);
    // As Docker: the hostname is the short id unless --hostname says.
    let hostname = if stored_has_hostname(&stored, trailing) {
        spec.hostname.clone()
    } else {
        let short = container.config.short_id().to_string();
        stored.insert(0, format!("--hostname={short}"));
        short
    };
    let limits = &options.container.storage.cgroups.limits;
    let record = Record {
        id: container.config.id.clone(),
        name: container.config.name.clone(),
        created: now_nanos(),
        image: options.image.to_string(),
        image_id,
        args: stored,
        env_file,
        process: Process {
            entrypoint: image_entrypoint(&image_config, &options.overrides),
            cmd: image_cmd(&image_config, &options.overrides),
            argv: process.argv,
            env: process.env,
            workdir: process.workdir,
            user: process.user,
            hostname,
            tty: spec.tty,
            open_stdin: interactive,
            labels: image_config
                .labels
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(labels)
                .collect(),
        },
        host: Host {
            restart: args.restart,
            auto_remove: storage.rm,
            stop_signal: args.stop_signal.clone(),
            stop_timeout: args.stop_timeout,
            log_max_size,
            log_max_files,
            network_mode: if spec.has(Namespace::Net) {
                options.container.network.mode.to_string()
            } else {
                "host".to_string()
            },
            ports: ports.iter().map(|p| p.to_string()).collect(),
            read_only: storage.read_only,
            privileged: security.privileged,
            memory: limits.memory.unwrap_or(0),
            nano_cpus: limits.cpus.unwrap_or(0),
            pids_limit: limits.pids_limit.unwrap_or(0),
        },
        state: State::default(),
        endpoint: None,
        networks: Some(networks),
        mounts,
    };
    let written = record
        .save(&container.dir)
        .and_then(|()| match &args.cidfile {
            Some(path) => write_cidfile(path, &record.id),
            None => Ok(()),
        })
        // Created: whoever starts it (a monitor) becomes its user.
        .and_then(|()| container.disown());
    drop(volumes_lock);
    if let Err(e) = written {
        let _ = engine.containers()?.remove(&container);
        crate::mounts::remove_anonymous(engine, &record.mounts);
        return Err(e);
    }
    Ok(Found { container, record })
}
// ANCHOR_END: create

fn image_entrypoint(
    image: &ch06_images::manifest::ContainerConfig,
    o: &runconfig::Overrides,
) -> Vec<String> {
    match &o.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image.entrypoint.clone().unwrap_or_default(),
    }
}

fn image_cmd(
    image: &ch06_images::manifest::ContainerConfig,
    o: &runconfig::Overrides,
) -> Vec<String> {
    if !o.command.is_empty() {
        o.command.clone()
    } else if o.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    }
}

/// `--hostname`/`-h` among the options (not in the command after the image).
fn stored_has_hostname(stored: &[String], trailing: usize) -> bool {
    stored[..stored.len().saturating_sub(trailing)]
        .iter()
        .any(|a| {
            a == "--hostname"
                || a.starts_with("--hostname=")
                || (a.starts_with("-h") && !a.starts_with("--"))
        })
}

/// `-e KEY` takes KEY's value from the caller's environment, once, here:
/// the monitor that starts the container later has an environment of its
/// own. Only the options are looked at, never the command after the image.
fn resolve_env_from_caller(stored: &mut [String], trailing: usize) {
    let options = stored.len().saturating_sub(trailing);
    let mut i = 0;
    while i < options {
        let value_at = match stored[i].as_str() {
            "-e" | "--env" => Some(i + 1),
            _ => None,
        };
        if let Some(at) = value_at.filter(|&at| at < options)
            && !stored[at].contains('=')
            && let Ok(value) = std::env::var(&stored[at])
        {
            stored[at] = format!("{}={value}", stored[at]);
        }
        i += 1;
    }
}

/// `--label KEY=VALUE` words (containers, networks, volumes).
pub fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for label in labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        if key.is_empty() {
            return Err(Error::invalid(format!(
                "invalid label {label:?}: use KEY=VALUE"
            )));
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// `--env-file`: KEY=VALUE lines; `#` comments and blank lines skipped; a
/// bare KEY takes the caller's value, as Docker does.
fn read_env_files(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::invalid(format!("--env-file {}: {}", file.display(), e)))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some(_) => out.push(line.to_string()),
                None => {
                    if let Ok(value) = std::env::var(line) {
                        out.push(format!("{line}={value}"));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `--log-opt max-size=10m --log-opt max-file=3`.
fn parse_log_opts(opts: &[String]) -> Result<(u64, u32)> {
    let (mut size, mut files) = (0, 1);
    for opt in opts {
        match opt.split_once('=') {
            Some(("max-size", v)) => {
                size = ch03_cgroups::units::parse_size(v)
                    .map_err(|e| Error::invalid(format!("--log-opt max-size={v}: {e}")))?;
            }
            Some(("max-file", v)) => {
                files = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    Error::invalid(format!("--log-opt max-file={v}: a positive number"))
                })?;
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unknown log option {opt:?}: berth's json-file log takes max-size and max-file"
                )));
            }
        }
    }
    if files > 1 && size == 0 {
        return Err(Error::invalid("--log-opt max-file needs max-size"));
    }
    Ok((size, files))
}

fn write_cidfile(path: &Path, id: &str) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::invalid(format!("--cidfile {}: {e}", path.display())))?;
    file.write_all(id.as_bytes())
        .map_err(|e| Error::engine(format!("--cidfile {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options() {
        assert_eq!(parse_log_opts(&[]).unwrap(), (0, 1));
        let opts = ["max-size=1k".to_string(), "max-file=3".to_string()];
        assert_eq!(parse_log_opts(&opts).unwrap(), (1024, 3));
        assert!(parse_log_opts(&["max-file=2".to_string()]).is_err());
        assert!(parse_log_opts(&["compress=true".to_string()]).is_err());
    }

    #[test]
    fn env_from_caller_only_in_options() {
        // PATH is set in every test environment.
        let path = std::env::var("PATH").unwrap();
        let mut stored: Vec<String> = ["-e", "PATH", "img", "sh", "-e", "PATH"]
            .map(String::from)
            .to_vec();
        resolve_env_from_caller(&mut stored, 4);
        assert_eq!(stored[1], format!("PATH={path}"));
        assert_eq!(stored[5], "PATH");
    }
}
