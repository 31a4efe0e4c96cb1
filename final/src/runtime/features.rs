//! `features`: what berth-runtime understands, in the runtime spec's
//! features document (containerd's shim and dockerd ask at startup).

use serde_json::json;

use super::OCI_VERSION;

/// The features document, as JSON.
pub fn features() -> String {
    let doc = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": [],
        "mountOptions": [],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": [],
            "cgroup": { "v1": false, "v2": false, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG"
                ],
                "operators": [
                    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"
                ]
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "io.github.berth.runtime.version": env!("CARGO_PKG_VERSION")
        }
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
