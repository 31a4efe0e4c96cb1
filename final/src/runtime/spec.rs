//! `spec`: writes a default config.json into a bundle directory, as a
//! starting point to edit (root `rootfs`, `sh`, no terminal).

use std::path::Path;

use oci_spec::runtime::Spec as Config;

use super::OCI_VERSION;
use crate::Error;

/// The default config, as JSON.
pub fn default_config() -> Result<String, Error> {
    let mut config = Config::default();
    config.set_version(OCI_VERSION.to_string());
    config.set_hostname(Some("berth".to_string()));
    serde_json::to_string_pretty(&config).map_err(|e| Error::engine(format!("default config: {e}")))
}

/// Writes `dir/config.json`; an existing one is left alone.
pub fn write_spec(dir: &Path) -> Result<(), Error> {
    let path = dir.join("config.json");
    if path.exists() {
        return Err(Error::conflict(format!(
            "{} exists: remove it first",
            path.display()
        )));
    }
    let json = default_config()?;
    std::fs::write(&path, json + "\n")
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
}
