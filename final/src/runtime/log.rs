//! The `--log` file: errors and warnings as lines of text or JSON (the
//! shim reads the last `{"level":"error","msg":...}` line as the reason a
//! command failed).

use std::io::Write;
use std::path::Path;

use crate::Error;

/// The shape of the lines in the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// `text` or `json`, as `--log-format` takes them.
    pub fn parse(name: &str) -> Result<Format, Error> {
        match name {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(Error::invalid(format!(
                "unknown log format {other:?}: use text or json"
            ))),
        }
    }
}

/// One line of the log, in `format`, at `level` (`error`, `warning`).
pub fn line(format: Format, level: &str, msg: &str) -> String {
    let time = crate::time::rfc3339(crate::time::now_nanos());
    match format {
        Format::Json => serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string(),
        Format::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
    }
}

/// Appends one line to the log file; a log that cannot be written is
/// not a reason to fail the command it reports on.
pub fn append(path: &Path, format: Format, level: &str, msg: &str) {
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut file) = file {
        let _ = writeln!(file, "{}", line(format, level, msg));
    }
}
