//! What every chapter binary does around its command: parse the command
//! line, and turn the result into an exit status.
//!
//! Usage errors exit 125, as `docker run` does, so a script can tell the
//! engine's refusals from the command's own failures (126, 127, or the
//! command's status).

use crate::Error;
use crate::error::ENGINE_ERROR;

/// Parses the command line; on a usage error prints it and exits 125
/// (`--help` and `--version` print and exit 0).
pub fn parse_or_exit<P: clap::Parser>() -> P {
    // A binary's libraries say what they have to say on its stderr.
    crate::events::set_sink(Box::new(StderrSink));
    match P::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { ENGINE_ERROR } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    }
}

/// The binaries' event sink: each event's text on stderr, one line.
pub struct StderrSink;

impl crate::events::Sink for StderrSink {
    fn emit(&self, event: &crate::events::Event) {
        eprintln!("{}", event.text);
    }
}

/// The running binary's name (`ch04-overlay`), for messages.
pub fn program() -> String {
    std::env::args()
        .next()
        .as_deref()
        .and_then(|arg0| std::path::Path::new(arg0).file_name())
        .map_or_else(|| "berth".into(), |n| n.to_string_lossy().into_owned())
}

/// Exits with the command's status, or prints the error as one
/// `program: message` line and exits with its code.
pub fn exit_with(result: Result<i32, Error>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("{}: {err}", program());
            std::process::exit(err.code);
        }
    }
}

/// Prints each success on stdout and each failure on stderr, as `docker rm`
/// does for several names; the exit code is the last failure's (0 if none).
pub fn report_each(results: impl IntoIterator<Item = Result<String, Error>>) -> i32 {
    let mut code = 0;
    for result in results {
        match result {
            Ok(done) => println!("{done}"),
            Err(err) => {
                eprintln!("{}: {err}", program());
                code = err.code;
            }
        }
    }
    code
}
