//! Pull progress: a bar per layer on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::digest::Digest;

/// Where progress goes.
pub enum Progress {
    /// Nothing (library callers, tests).
    Hidden,
    /// One line per finished layer, as `docker pull` prints when its
    /// output is not a terminal, through the program's event sink.
    Plain,
    /// indicatif bars on stderr.
    Bars(MultiProgress),
}

impl Progress {
    /// Bars on a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Progress::Plain
        }
    }

    /// The reporter of one layer.
    pub fn layer(&self, digest: &Digest, size: u64) -> LayerProgress {
        let label = digest.short().to_string();
        let bar = match self {
            Progress::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template("{prefix}: {bar:30} {bytes}/{total_bytes} {msg}")
                        .expect("valid template"),
                );
                bar.set_prefix(label.clone());
                Some(bar)
            }
            _ => None,
        };
        LayerProgress {
            bar,
            plain: matches!(self, Progress::Plain),
            label,
        }
    }
}

/// Progress of one layer.
pub struct LayerProgress {
    bar: Option<ProgressBar>,
    plain: bool,
    label: String,
}

impl LayerProgress {
    pub fn inc(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Ends the layer with a status such as `Pull complete`.
    pub fn finish(&self, status: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(status.to_string());
        } else if self.plain {
            ch01_chroot::events::notice(format!("{}: {status}", self.label));
        }
    }
}
