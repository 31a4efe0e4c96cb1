//! `system`: disk usage (`df`), pruning what nothing uses (`prune`), and
//! the systemd unit that starts restartable containers at boot (`unit`).

use std::path::Path;

use ch06_images::store::human_size;
use clap::Subcommand;

use crate::Result;
use crate::context::Engine;
use crate::format::align;
use crate::lookup::{Found, all};
use crate::record::Status;

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show disk usage: images, containers, volumes, build cache.
    Df,
    /// Remove stopped containers, unused networks, and with -a unused images.
    Prune {
        /// Remove every image no container uses (not only dangling ones).
        #[arg(short, long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
    /// Print a systemd unit that starts restartable containers at boot.
    ///
    /// The unit runs `berth start --restartable` once at boot, so that
    /// containers with --restart always, unless-stopped or on-failure come
    /// back after a reboot (berth has no daemon to do it). Install it with
    /// `berth system unit > /etc/systemd/system/berth.service` and
    /// `systemctl enable berth`.
    Unit,
}

/// The bytes under `path` (not following links; each inode once would
/// need a set: hard links count each time, as `du --count-links`).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = path.symlink_metadata() else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            total += disk_usage(&entry.path());
        }
    }
    total
}

fn is_active(f: &Found) -> bool {
    matches!(
        f.record.state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// `system df`.
pub fn df(engine: &Engine) -> Result<String> {
    let (containers, _) = all(engine)?;
    let store = engine.images()?;
    // One entry per image (by id, as Docker counts), however many names.
    let mut images: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in store.images()? {
        images.insert(row.id, row.size);
    }
    let used: Vec<&str> = containers
        .iter()
        .map(|c| c.record.image_id.as_str())
        .collect();
    let image_size: u64 = images.values().sum();
    let active_images = images
        .keys()
        .filter(|id| used.contains(&id.as_str()))
        .count();
    let unused_size: u64 = images
        .iter()
        .filter(|(id, _)| !used.contains(&id.as_str()))
        .map(|(_, size)| size)
        .sum();
    let sizes: Vec<(bool, u64)> = containers
        .iter()
        .map(|c| (is_active(c), disk_usage(&c.container.upper())))
        .collect();
    let container_size: u64 = sizes.iter().map(|(_, s)| s).sum();
    let stopped_size: u64 = sizes.iter().filter(|(a, _)| !a).map(|(_, s)| s).sum();
    let active_containers = sizes.iter().filter(|(a, _)| *a).count();
    let percent = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let lines = vec![
        vec!["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            .into_iter()
            .map(String::from)
            .collect(),
        vec![
            "Images".to_string(),
            images.len().to_string(),
            active_images.to_string(),
            human_size(image_size),
            format!(
                "{} ({}%)",
                human_size(unused_size),
                percent(unused_size, image_size)
            ),
        ],
        vec![
            "Containers".to_string(),
            containers.len().to_string(),
            active_containers.to_string(),
            human_size(container_size),
            format!(
                "{} ({}%)",
                human_size(stopped_size),
                percent(stopped_size, container_size)
            ),
        ],
        volumes_line(engine, &containers)?,
        ["Build Cache", "0", "0", "0B", "0B"]
            .map(String::from)
            .to_vec(),
    ];
    Ok(align(&lines))
}

/// "Local Volumes": every volume, those a container uses, their size,
/// and what the unused ones hold.
fn volumes_line(engine: &Engine, containers: &[Found]) -> Result<Vec<String>> {
    use crate::volumes::store::{Volumes, users};
    let volumes = Volumes::open(engine)?.list()?;
    let (mut size, mut unused, mut active) = (0, 0, 0);
    for v in &volumes {
        let bytes = disk_usage(&v.mountpoint);
        size += bytes;
        if users(containers, &v.name).is_empty() {
            unused += bytes;
        } else {
            active += 1;
        }
    }
    let percent = (unused * 100).checked_div(size).unwrap_or(0);
    Ok(vec![
        "Local Volumes".to_string(),
        volumes.len().to_string(),
        active.to_string(),
        human_size(size),
        format!("{} ({percent}%)", human_size(unused)),
    ])
}

/// `system prune`: stopped containers, networks no container uses, and
/// the dangling images (with `all`, every image no container uses).
pub fn prune(engine: &Engine, all_images: bool) -> Result<String> {
    let mut out = String::new();
    let mut reclaimed = 0;
    let (found, _) = all(engine)?;
    let mut containers = Vec::new();
    for f in found.iter().filter(|f| {
        matches!(
            f.record.state.status,
            Status::Exited | Status::Created | Status::Dead
        )
    }) {
        let size = disk_usage(&f.container.upper());
        crate::remove::remove_stopped(engine, &f.container)?;
        reclaimed += size;
        containers.push(f.record.id.clone());
    }
    section(&mut out, "Deleted Containers:", &containers);

    let host = ch05_network::run::host_for(&engine.root)?;
    let mut networks = Vec::new();
    for network in host.list_networks()? {
        if network.name == ch05_network::network::DEFAULT_NETWORK {
            continue;
        }
        // A network with endpoints is refused by chapter 5: in use, kept.
        if host.remove_network(&network.name).is_ok() {
            networks.push(network.name);
        }
    }
    section(&mut out, "Deleted Networks:", &networks);

    // Chapter 6's images: dangling ones, or with -a all that no container uses.
    let pruned = crate::images::prune::prune(engine, all_images)?;
    reclaimed += pruned.reclaimed;
    let images = pruned.lines;
    section(&mut out, "Deleted Images:", &images);
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(reclaimed)
    ));
    Ok(out)
}

fn section(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(title);
    out.push('\n');
    for item in items {
        out.push_str(item);
        out.push('\n');
    }
    out.push('\n');
}

/// The unit: a oneshot at boot that starts every container whose restart
/// policy says so; it stays "active" so systemd leaves the monitors it
/// started alone (`RemainAfterExit`, `KillMode=process`).
pub fn unit(engine: &Engine) -> String {
    let mut command = format!("{} --root {}", engine.exe.display(), engine.root.display());
    if engine.run_dir != Path::new(crate::context::DEFAULT_RUN_DIR) {
        command.push_str(&format!(" --run-dir {}", engine.run_dir.display()));
    }
    format!(
        "[Unit]\n\
         Description=berth: start the containers whose restart policy says so\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={command} start --restartable\n\
         RemainAfterExit=yes\n\
         KillMode=process\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}
