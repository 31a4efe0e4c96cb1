//! The scenario harness: run a chapter binary, capture, normalise, render.
//!
//! Every chapter's privileged tests, the workshop grader and the book's
//! "check your work" listings use the same rendering, so one committed
//! snapshot is at once a test, a grading key and documentation.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::normalise::Normaliser;

/// A command to run, with the normaliser that cleans its output.
pub struct Scenario {
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    envs: Vec<(OsString, OsString)>,
    timeout: Duration,
    normaliser: Normaliser,
}

/// What a scenario printed and how it exited, already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command line as shown: program name (no directory) and arguments.
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    /// Exit code; 128+N when the program itself was killed by signal N.
    pub code: i32,
}

impl Scenario {
    /// A scenario running `program` (usually `env!("CARGO_BIN_EXE_<name>")`).
    ///
    /// The fixture path is shown as `<fixture>` in every output.
    pub fn new(program: impl AsRef<Path>) -> Self {
        let normaliser = Normaliser::new().replace(
            crate::fixture::fixture_dir()
                .join("rootfs")
                .display()
                .to_string(),
            "<fixture>",
        );
        Scenario {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            stdin: None,
            envs: Vec::new(),
            timeout: Duration::from_secs(120),
            normaliser,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Shows every occurrence of `from` as `to` (a temp dir, a name).
    pub fn replace(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.normaliser = self.normaliser.replace(from, to);
        self
    }

    /// Runs the scenario to completion. Panics if it cannot start or times out.
    pub fn run(self) -> Outcome {
        let name = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown_args: Vec<String> = self
            .args
            .iter()
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        let command = self
            .normaliser
            .apply(&format!("{name} {}", shown_args.join(" ")))
            .trim_end()
            .to_string();

        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        if let (Some(input), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let stdout = reader(child.stdout.take());
        let stderr = reader(child.stderr.take());
        let code = wait_with_timeout(&mut child, self.timeout, &command);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        Outcome {
            command,
            stdout: self.normaliser.apply(&stdout),
            stderr: self.normaliser.apply(&stderr),
            code,
        }
    }
}

impl Outcome {
    /// The text committed as a snapshot (and shown in the book).
    pub fn render(&self) -> String {
        let mut text = format!("$ {}\n", self.command);
        text.push_str(&self.stdout);
        if !self.stderr.is_empty() {
            text.push_str("--- stderr\n");
            text.push_str(&self.stderr);
        }
        text.push_str(&format!("--- exit: {}\n", self.code));
        text
    }

    /// The value of the first `key: value` line in stdout.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
    }

    /// Panics with the whole outcome unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code:\n{}", self.render());
        self
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_with_timeout(child: &mut Child, timeout: Duration, command: &str) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                // Our own child, by pid.
                let _ = child.kill();
                let _ = child.wait();
                panic!("scenario timed out after {timeout:?}: {command}");
            }
            Err(e) => panic!("waiting for {command}: {e}"),
        }
    }
}

/// Quotes an argument the way a reader would type it in a shell.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@<>%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/probe"), "/probe");
        assert_eq!(shell_quote("exit 3"), "'exit 3'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn runs_and_renders_an_unprivileged_command() {
        let out = Scenario::new("/bin/sh")
            .args(["-c", "echo pid: $$; echo oops >&2; exit 4"])
            .run();
        assert_eq!(out.code, 4);
        assert_eq!(out.value("pid"), Some("<pid>"));
        assert_eq!(
            out.render(),
            "$ sh -c 'echo pid: $$; echo oops >&2; exit 4'\npid: <pid>\n--- stderr\noops\n--- exit: 4\n"
        );
    }

    #[test]
    fn a_signal_is_128_plus_n() {
        let out = Scenario::new("/bin/sh").args(["-c", "kill -KILL $$"]).run();
        assert_eq!(out.code, 137);
    }
}
