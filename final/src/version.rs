//! `version`: berth's version and how it was built, in `docker version`'s
//! shape. berth has no daemon, so there is one side only, the client.

use serde_json::{Value, json};

use crate::Result;

/// Docker's names for the architectures (`amd64`, not `x86_64`).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn facts() -> Value {
    json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": "none (berth is daemonless)",
            "RustVersion": env!("BERTH_RUSTC_VERSION"),
            "Os": std::env::consts::OS,
            "Arch": arch(),
        }
    })
}

pub fn version(format: Option<&str>) -> Result<String> {
    let facts = facts();
    if let Some(f) = format {
        return Ok(if f == "json" {
            format!("{facts}\n")
        } else {
            format!("{}\n", crate::format::render(f, &facts)?)
        });
    }
    let c = &facts["Client"];
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    Ok(format!(
        "Client:\n Version:           {}\n API version:       {}\n Rust version:      {}\n OS/Arch:           {}/{}\n",
        s("Version"),
        s("ApiVersion"),
        s("RustVersion"),
        s("Os"),
        s("Arch")
    ))
}
