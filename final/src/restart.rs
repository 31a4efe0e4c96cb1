//! Restart policies (`--restart`) and Docker's back-off between restarts.
//!
//! The monitor applies the policy when the container exits: `on-failure`
//! restarts on a non-zero code (at most N times with `:N`), `always` and
//! `unless-stopped` on any exit; none of them after `stop` or `kill`. The
//! delay starts at 100 ms and doubles at each restart up to a minute; a
//! container that ran 10 seconds or more starts over at 100 ms.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure {
        /// 0: no limit.
        #[serde(rename = "MaximumRetryCount")]
        max: u32,
    },
    Always,
    UnlessStopped,
}

impl std::str::FromStr for RestartPolicy {
    type Err = Error;
    fn from_str(text: &str) -> Result<RestartPolicy, Error> {
        let bad = || {
            Error::invalid(format!(
                "invalid restart policy {text:?}: use no, on-failure[:max-retries], always or unless-stopped"
            ))
        };
        let (name, max) = match text.split_once(':') {
            Some((name, max)) => (name, Some(max.parse::<u32>().map_err(|_| bad())?)),
            None => (text, None),
        };
        match (name, max) {
            ("no", None) => Ok(RestartPolicy::No),
            ("on-failure", max) => Ok(RestartPolicy::OnFailure {
                max: max.unwrap_or(0),
            }),
            ("always", None) => Ok(RestartPolicy::Always),
            ("unless-stopped", None) => Ok(RestartPolicy::UnlessStopped),
            (_, Some(_)) if name != "on-failure" => Err(Error::invalid(format!(
                "invalid restart policy {text:?}: only on-failure takes a maximum retry count"
            ))),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartPolicy::No => write!(f, "no"),
            RestartPolicy::OnFailure { max: 0 } => write!(f, "on-failure"),
            RestartPolicy::OnFailure { max } => write!(f, "on-failure:{max}"),
            RestartPolicy::Always => write!(f, "always"),
            RestartPolicy::UnlessStopped => write!(f, "unless-stopped"),
        }
    }
}

// ANCHOR: should_restart
impl RestartPolicy {
    /// Whether a container that exited with `code`, after `restarts`
    /// restarts, starts again. `stopped_by_user`: `stop` or `kill` ended it.
    pub fn should_restart(self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure { max } => code != 0 && (max == 0 || restarts < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }

    /// Whether `berth start --restartable` (at boot) starts the container.
    pub fn restarts_at_boot(self, stopped_by_user: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            _ => false,
        }
    }
}

/// The delay before restart number `restarts + 1`, after a run of `ran`.
pub fn backoff(restarts: u32, ran: Duration) -> Duration {
    if ran >= Duration::from_secs(10) {
        return Duration::from_millis(100);
    }
    let delay = Duration::from_millis(100).saturating_mul(1 << restarts.min(10));
    delay.min(Duration::from_secs(60))
}
// ANCHOR_END: should_restart

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_dockers() {
        assert_eq!("no".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert_eq!(
            "on-failure:2".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnFailure { max: 2 }
        );
        assert!("always:3".parse::<RestartPolicy>().is_err());
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert_eq!(
            RestartPolicy::OnFailure { max: 2 }.to_string(),
            "on-failure:2"
        );
    }

    #[test]
    fn on_failure_counts() {
        let p = RestartPolicy::OnFailure { max: 2 };
        assert!(p.should_restart(1, 0, false));
        assert!(p.should_restart(1, 1, false));
        assert!(!p.should_restart(1, 2, false));
        assert!(!p.should_restart(0, 0, false));
        assert!(!RestartPolicy::Always.should_restart(1, 0, true));
    }

    #[test]
    fn backoff_doubles_and_resets() {
        assert_eq!(backoff(0, Duration::ZERO), Duration::from_millis(100));
        assert_eq!(backoff(3, Duration::ZERO), Duration::from_millis(800));
        assert_eq!(backoff(20, Duration::ZERO), Duration::from_secs(60));
        assert_eq!(
            backoff(5, Duration::from_secs(11)),
            Duration::from_millis(100)
        );
    }
}
