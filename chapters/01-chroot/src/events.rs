//! Events: what a library has to say besides its result (a warning, a
//! notice, a line of a report), handed to a sink that the program chose.
//! Libraries never print: a chapter binary sets [`crate::cli::StderrSink`]
//! (its `parse_or_exit` does), an engine's monitor can put events in the
//! container's log, an API can stream them. With no sink they are dropped.
//!
//! The sink is the process's, set once by `main` before anything else, the
//! way a logger is: every library reaches it without threading it through
//! each call.

use std::sync::OnceLock;

/// What kind of thing an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something went wrong but the work went on (a cleanup that failed).
    Warning,
    /// Something the user should know (a container paused, a pull).
    Notice,
}

/// One event: its level and the text a terminal shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub level: Level,
    pub text: String,
}

// ANCHOR: sink
/// Where events go.
pub trait Sink: Send + Sync {
    fn emit(&self, event: &Event);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();

/// Sets the process's sink; the first call wins (false for a later one).
pub fn set_sink(sink: Box<dyn Sink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Hands `event` to the process's sink.
pub fn emit(event: Event) {
    if let Some(sink) = SINK.get() {
        sink.emit(&event);
    }
}

// ANCHOR_END: sink

/// A warning, as `text` shows it.
pub fn warning(text: impl Into<String>) {
    emit(Event {
        level: Level::Warning,
        text: text.into(),
    });
}

/// A notice, as `text` shows it.
pub fn notice(text: impl Into<String>) {
    emit(Event {
        level: Level::Notice,
        text: text.into(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Collect(Arc<Mutex<Vec<Event>>>);

    impl Sink for Collect {
        fn emit(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[test]
    fn events_reach_the_sink_the_program_set() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        assert!(set_sink(Box::new(Collect(seen.clone()))));
        assert!(
            !set_sink(Box::new(Collect(Arc::default()))),
            "the first sink stays"
        );
        warning("ch03-cgroups: warning: cpu.weight is not available");
        notice("paused");
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.iter().map(|e| e.level).collect::<Vec<_>>(),
            [Level::Warning, Level::Notice]
        );
        assert_eq!(seen[1].text, "paused");
    }
}
