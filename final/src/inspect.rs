//! `inspect`: a container as Docker's JSON shows it (the field names
//! scripts use: `.State.Pid`, `.NetworkSettings.IPAddress`, ...).

use serde_json::{Value, json};

use crate::lookup::Found;
use crate::record::Status;
use crate::time::{ZERO, rfc3339};

fn time(nanos: u128) -> String {
    if nanos == 0 {
        ZERO.to_string()
    } else {
        rfc3339(nanos)
    }
}

// ANCHOR: inspect
pub fn inspect(engine: &crate::context::Engine, found: &Found) -> Value {
    let r = &found.record;
    let s = &r.state;
    let ports: serde_json::Map<String, Value> = r
        .host
        .ports
        .iter()
        .filter_map(|p| port_binding(p))
        .collect();
    let (ip, gateway, prefix) = match &r.endpoint {
        Some(e) => (e.ip.clone(), e.gateway.clone(), e.prefix_len),
        None => (String::new(), String::new(), 0),
    };
    json!({
        "Id": r.id,
        "Created": time(r.created),
        "Path": r.process.argv.first().cloned().unwrap_or_default(),
        "Args": r.process.argv.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": if r.is_active() { s.pid.map_or(0, |p| p.pid) } else { 0 },
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": time(s.started_at),
            "FinishedAt": time(s.finished_at),
        },
        "Image": r.image_id,
        "Name": format!("/{}", r.name),
        "RestartCount": s.restart_count,
        "Driver": format!("{:?}", found.container.config.storage).to_lowercase(),
        "LogPath": found.dir().join(crate::logfile::LOG),
        "HostConfig": {
            "NetworkMode": r.host.network_mode,
            "PortBindings": ports,
            "RestartPolicy": {
                "Name": restart_name(&r.host.restart),
                "MaximumRetryCount": match r.host.restart {
                    crate::restart::RestartPolicy::OnFailure { max } => max,
                    _ => 0,
                },
            },
            "AutoRemove": r.host.auto_remove,
            "Privileged": r.host.privileged,
            // Docker's "" is the host's; berth names its own "private".
            "UsernsMode": if found.container.config.userns.is_some() { "private" } else { "" },
            "ReadonlyRootfs": r.host.read_only,
            "Memory": r.host.memory,
            "NanoCpus": r.host.nano_cpus,
            "PidsLimit": r.host.pids_limit,
            "LogConfig": {"Type": "json-file", "Config": log_config(r)},
        },
        "GraphDriver": {
            "Name": format!("{:?}", found.container.config.storage).to_lowercase(),
            "Data": {
                "LowerDir": found.container.config.lowers.iter()
                    .map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                "UpperDir": found.container.upper(),
                "WorkDir": found.container.work(),
                "MergedDir": found.container.rootfs(),
            },
        },
        "Mounts": r.mounts.iter().map(crate::mounts::inspect).collect::<Vec<_>>(),
        "Config": {
            "Hostname": r.process.hostname,
            "User": r.process.user,
            "Tty": r.process.tty,
            "OpenStdin": r.process.open_stdin,
            "Env": r.process.env,
            "Cmd": r.process.cmd,
            "Image": r.image,
            "WorkingDir": r.process.workdir,
            "Entrypoint": r.process.entrypoint,
            "Labels": r.process.labels,
            "StopSignal": r.host.stop_signal,
            "StopTimeout": r.host.stop_timeout,
        },
        "NetworkSettings": {
            "IPAddress": ip,
            "Gateway": gateway,
            "IPPrefixLen": prefix,
            "Ports": ports,
            "Networks": crate::networks::connect::settings(engine, r),
        },
    })
}
// ANCHOR_END: inspect

fn restart_name(policy: &crate::restart::RestartPolicy) -> String {
    let name = policy.to_string();
    name.split(':').next().unwrap_or_default().to_string()
}

fn log_config(r: &crate::record::Record) -> Value {
    let mut config = serde_json::Map::new();
    if r.host.log_max_size > 0 {
        config.insert("max-size".into(), json!(r.host.log_max_size.to_string()));
        config.insert("max-file".into(), json!(r.host.log_max_files.to_string()));
    }
    Value::Object(config)
}

/// `8080:80/tcp` into Docker's `"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`.
fn port_binding(mapping: &str) -> Option<(String, Value)> {
    let m: ch05_network::mode::PortMapping = mapping.parse().ok()?;
    let text = m.to_string();
    let (addr, proto) = text.rsplit_once('/').unwrap_or((&text, "tcp"));
    let mut parts: Vec<&str> = addr.rsplitn(3, ':').collect();
    parts.reverse();
    let (host_ip, host_port, container) = match parts.as_slice() {
        [ip, h, c] => (ip.to_string(), h.to_string(), c.to_string()),
        [h, c] => (String::new(), h.to_string(), c.to_string()),
        _ => return None,
    };
    Some((
        format!("{container}/{proto}"),
        json!([{"HostIp": host_ip, "HostPort": host_port}]),
    ))
}
