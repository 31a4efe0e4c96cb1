//! `list`: every container under the root, as a table.

use super::Globals;
use super::state::State;
use crate::Error;

/// The containers' states, sorted by id (unreadable ones are left out).
pub fn states(globals: &Globals) -> Result<Vec<State>, Error> {
    let entries = match std::fs::read_dir(&globals.root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::engine(format!("{}: {e}", globals.root.display()))),
    };
    let mut states: Vec<State> = entries
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_string_lossy().to_string();
            State::load(globals, &id).ok()
        })
        .collect();
    states.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(states)
}

/// The table `list` prints.
pub fn table(states: &[State]) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<8} {:<40} {}\n",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for s in states {
        out.push_str(&format!(
            "{:<20} {:<8} {:<8} {:<40} {}\n",
            s.id,
            s.pid,
            s.status.as_str(),
            s.bundle.display(),
            s.created
        ));
    }
    out
}
