//! The learner's progress: one small JSON file in the checkout
//! (`.lab-progress.json`, ignored by git), and the reference answers of
//! started exercises, kept out of the source tree under `target/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The progress file, in the workspace root.
pub const FILE: &str = ".lab-progress.json";

/// The result of one `check`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// When, as `YYYY-MM-DDTHH:MM:SSZ`.
    pub when: String,
    /// SHA-256 of what the checks printed, so a leader can tell runs apart.
    pub output_digest: String,
}

/// What the learner has done with one exercise.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub started: bool,
    pub hints_shown: usize,
    pub last_check: Option<Outcome>,
}

/// Everything in the progress file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    /// The exercise `check`, `hint` and `watch` use when given no id.
    pub current: Option<String>,
    pub exercises: BTreeMap<String, State>,
}

impl Progress {
    pub fn load(workspace: &Path) -> Result<Progress> {
        let path = workspace.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not readable progress: fix or remove it",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes atomically (temporary file, then rename).
    pub fn save(&self, workspace: &Path) -> Result<()> {
        let path = workspace.join(FILE);
        let temp = workspace.join(format!("{FILE}.tmp"));
        std::fs::write(&temp, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))
    }

    pub fn state(&mut self, id: &str) -> &mut State {
        self.exercises.entry(id.to_string()).or_default()
    }
}

/// The reference bodies of a started exercise: `target/lab-exercises/ID.json`.
pub fn reference_file(target: &Path, id: &str) -> PathBuf {
    target.join("lab-exercises").join(format!("{id}.json"))
}

/// Seconds since the epoch as an ISO 8601 UTC time.
pub fn iso8601(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Now, as [`iso8601`].
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    iso8601(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso_8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_796_213_969), "2026-12-02T12:19:29Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn progress_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress {
            current: Some("ch03.4".into()),
            ..Progress::default()
        };
        p.state("ch03.4").hints_shown = 2;
        p.save(dir.path()).unwrap();
        assert_eq!(Progress::load(dir.path()).unwrap(), p);
        std::fs::write(dir.path().join(FILE), "{ broken").unwrap();
        assert!(Progress::load(dir.path()).is_err(), "reported, never reset");
    }
}
