//! Result lines, summaries and machine-readable output.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use serde::Serialize;

use super::heartbeat::{self, Beat, Heartbeat};
use crate::model::{Event, Observer, Outcome, ResourceReport, Summary};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(crate) enum Format {
    /// Human-readable lines and tables.
    #[default]
    Table,
    /// Machine-readable JSON on stdout, nothing else.
    Json,
    /// YAML on stdout (for `plan`, a multi-document stream of manifests).
    Yaml,
}

/// How much to print on stderr besides results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// Errors and the summary only.
    Quiet,
    /// Result lines, attempts, notes.
    Normal,
    /// Also debug detail.
    Verbose,
}

/// Prints events as they happen: result lines on stdout (table format), attempts and notes on stderr.
pub(crate) struct Printer {
    format: Format,
    verbosity: Verbosity,
    color: bool,
    simulated: bool,
    progress: Option<super::progress::Progress>,
    /// When a log (no progress bars) hears of a long wait.
    heartbeat: Heartbeat,
    lock: Mutex<()>,
}

impl Printer {
    /// A printer for `format`; colour and progress bars only when stdout/stderr are terminals.
    pub(crate) fn new(format: Format, verbosity: Verbosity, simulated: bool) -> Printer {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let progress = (std::io::stderr().is_terminal()
            && std::io::stdout().is_terminal()
            && verbosity != Verbosity::Quiet)
            .then(super::progress::Progress::new);
        Printer {
            format,
            verbosity,
            color,
            simulated,
            progress,
            heartbeat: Heartbeat::default(),
            lock: Mutex::new(()),
        }
    }

    fn paint(&self, outcome: Outcome) -> String {
        let tag = outcome.tag();
        if !self.color {
            return tag.to_string();
        }
        let code = match outcome {
            Outcome::Success => "32",
            Outcome::Skipped | Outcome::NoCapacity => "33",
            Outcome::Failed => "31;1",
            Outcome::Deleted => "36",
        };
        format!("\x1b[{code}m{tag}\x1b[0m")
    }

    /// One result line: `[SUCCESS] VirtualMachine web-01: created`.
    pub(crate) fn line(&self, r: &ResourceReport) -> String {
        let mut s = format!("{} {} {}", self.paint(r.outcome), r.kind, r.name);
        if !r.reason.is_empty() {
            s.push_str(": ");
            s.push_str(&r.reason);
        }
        let d = &r.details;
        for (key, value) in [
            ("id", &d.id),
            ("private_ip", &d.private_ip),
            ("public_ip", &d.public_ip),
            ("ip", &d.ip),
            ("node", &d.node),
            ("availability_domain", &d.availability_domain),
            ("ssh", &d.ssh),
            // The key is in the ssh hint once the instance runs; before, it is said alone.
            (
                "private_key",
                if d.ssh.is_some() {
                    &None
                } else {
                    &d.private_key
                },
            ),
            // Where the launch result was saved (or set aside by a delete).
            ("launch_result", &d.launch_result),
        ] {
            if let Some(v) = value {
                s.push_str(&format!("  {key}={v}"));
            }
        }
        if self.simulated {
            s.push_str("  [SIMULATED]");
        }
        s
    }

    fn err_line(&self, s: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let _g = self.lock.lock();
        match &self.progress {
            Some(p) => p.println(s),
            None => {
                let _ = writeln!(std::io::stderr(), "{s}");
            }
        }
    }

    /// Prints the closing summary (table format) or the whole JSON/YAML document.
    pub(crate) fn finish(
        &self,
        action: &str,
        reports: &[ResourceReport],
        elapsed: std::time::Duration,
    ) {
        if let Some(p) = &self.progress {
            p.clear();
        }
        let summary = Summary::of(reports);
        match self.format {
            Format::Table => {
                let done = match action {
                    "start" => "started",
                    "stop" => "stopped",
                    "adopt" => "adopted",
                    _ => "created",
                };
                let sim = if self.simulated { " [SIMULATED]" } else { "" };
                let _ = writeln!(
                    std::io::stdout(),
                    "{action}: {} in {:.1}s{sim}",
                    summary.text(done),
                    elapsed.as_secs_f64()
                );
            }
            Format::Json | Format::Yaml => {
                #[derive(Serialize)]
                struct Doc<'a> {
                    action: &'a str,
                    simulated: bool,
                    results: &'a [ResourceReport],
                    summary: Summary,
                }
                let doc = Doc {
                    action,
                    simulated: self.simulated,
                    results: reports,
                    summary,
                };
                print_doc(self.format, &doc);
            }
        }
    }
}

/// Prints `value` as JSON or YAML on stdout.
pub(crate) fn print_doc<T: Serialize>(format: Format, value: &T) {
    let text = match format {
        Format::Yaml => {
            serde_yaml::to_string(value).unwrap_or_else(|e| format!("# cannot encode: {e}\n"))
        }
        _ => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n")),
    };
    super::stdout::write(&text);
}

impl Observer for Printer {
    fn event(&self, event: Event) {
        match event {
            Event::Report(r) => self.report(&r),
            Event::AttemptStarted {
                instance,
                attempt,
                placement,
            } => {
                if let Some(p) = &self.progress {
                    p.set(&instance, &format!("attempt {attempt} {}", placement.label));
                } else if self.verbosity == Verbosity::Verbose {
                    self.err_line(&format!(
                        "{instance}: attempt {attempt} in {}",
                        placement.label
                    ));
                }
            }
            Event::AttemptFailed {
                instance,
                attempt,
                placement,
                class,
                message,
                next_try_in,
            } => {
                let next = match next_try_in {
                    Some(d) if !d.is_zero() => format!(
                        "; next try in {}",
                        humantime::format_duration(std::time::Duration::from_secs(
                            d.as_secs().max(1)
                        ))
                    ),
                    _ => String::new(),
                };
                let what = format!(
                    "attempt {attempt} in {} failed ({class}): {message}{next}",
                    placement.label
                );
                if let Some(p) = &self.progress {
                    p.set(&instance, &what);
                }
                self.err_line(&format!("{instance}: {what}"));
            }
            Event::Progress {
                instance,
                phase,
                percent,
            } => self.progress(&instance, &phase, percent),
            Event::Note { message, .. } => self.err_line(&format!("note: {message}")),
        }
    }
}

impl Printer {
    /// A result line: on stdout as a table row, or (machine-readable output) only failures
    /// on stderr.
    fn report(&self, r: &ResourceReport) {
        self.heartbeat.reset(&r.instance);
        if self.format == Format::Table {
            let line = self.line(r);
            let _g = self.lock.lock();
            if let Some(p) = &self.progress {
                p.done(&r.instance);
                p.println(&line);
            } else {
                let _ = writeln!(std::io::stdout(), "{line}");
            }
        } else if r.outcome == Outcome::Failed {
            self.err_line(&format!(
                "{} {} {}: {}",
                r.outcome.tag(),
                r.kind,
                r.name,
                r.reason
            ));
        }
    }

    /// A long step's progress: the live line on a terminal; in a log, a line when one is due.
    fn progress(&self, instance: &str, phase: &str, percent: Option<f32>) {
        let text = match percent {
            Some(p) => format!("{phase} {p:.1}%"),
            None => phase.to_string(),
        };
        if let Some(p) = &self.progress {
            p.set(instance, &text);
            return;
        }
        // Waits report every look; a log gets a line when one is due.
        let now = tokio::time::Instant::now();
        match self.heartbeat.progress(instance, phase, &text, now) {
            Beat::Print(elapsed) => self.err_line(&heartbeat::line(instance, &text, elapsed)),
            Beat::Changed if self.verbosity == Verbosity::Verbose => {
                self.err_line(&format!("{instance}: {text}"));
            }
            Beat::Changed | Beat::Same => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_line_has_tag_kind_name_reason_and_details() {
        let p = Printer {
            format: Format::Table,
            verbosity: Verbosity::Normal,
            color: false,
            simulated: true,
            progress: None,
            heartbeat: Heartbeat::default(),
            lock: Mutex::new(()),
        };
        let r = ResourceReport::new("web-01", "Instance", "web-01", Outcome::Success, "launched")
            .with(|d| d.public_ip = Some("203.0.113.7".into()));
        assert_eq!(
            p.line(&r),
            "[SUCCESS] Instance web-01: launched  public_ip=203.0.113.7  [SIMULATED]"
        );
    }
}
