//! Signals by name or number, as `kill -s`, `--stop-signal` and Docker take
//! them: `KILL`, `SIGKILL`, `9`.

use nix::sys::signal::Signal;

use crate::Error;

pub fn parse_signal(text: &str) -> Result<Signal, Error> {
    let bad = || {
        Error::invalid(format!(
            "invalid signal {text:?}: use a name such as SIGTERM or KILL, or a number"
        ))
    };
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("15").unwrap(), Signal::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
