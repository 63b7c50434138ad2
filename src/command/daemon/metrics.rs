//! The daemon's counters: Prometheus metrics for `/metrics` and the built-in daily summary.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::DailySummary;
use crate::model::{Event, Observer, Outcome, short_zone};

/// Labels of `vauto_attempts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    class: String,
    ad: String,
}

/// Labels of `vauto_schedule_runs_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    project: String,
    spec: String,
    action: String,
    result: String,
}

/// Counters for `/metrics` and the built-in daily summary.
pub(crate) struct Metrics {
    started: DateTime<Utc>,
    registry: Registry,
    attempts: Family<AttemptLabels, Counter>,
    launched: Counter,
    last_success: Gauge,
    schedule_runs: Family<RunLabels, Counter>,
    tally: Mutex<Tally>,
}

/// What the metrics cannot answer by themselves: attempts in flight and the summary's sums.
#[derive(Default)]
struct Tally {
    /// Instance -> AD of its attempt in flight.
    pending: BTreeMap<String, String>,
    /// Outcome class -> attempts (every AD).
    by_class: BTreeMap<String, u64>,
    /// Scheduled runs, and those whose result was not `ok`.
    runs: u64,
    runs_not_ok: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty counters, starting now.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        // The crate appends the full stop to each help text, and `_total` to counter names.
        let up: Gauge = Gauge::default();
        up.set(1);
        registry.register("vauto_up", "The daemon is running", up);
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "vauto_attempts",
            "Launch attempts by outcome class and availability domain",
            attempts.clone(),
        );
        let launched = Counter::default();
        registry.register(
            "vauto_instances_launched",
            "Instances launched by this daemon",
            launched.clone(),
        );
        let last_success = Gauge::default();
        registry.register(
            "vauto_last_success_timestamp_seconds",
            "When an instance was last launched or found running (0: never)",
            last_success.clone(),
        );
        let schedule_runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "vauto_schedule_runs",
            "Scheduled actions run, by result (ok, failed, skipped)",
            schedule_runs.clone(),
        );
        Metrics {
            started: Utc::now(),
            registry,
            attempts,
            launched,
            last_success,
            schedule_runs,
            tally: Mutex::default(),
        }
    }

    /// Counts one scheduled run of `action` on `project`/`spec` with `result`.
    pub(super) fn schedule_run(&self, project: &str, spec: &str, action: &str, result: &str) {
        self.schedule_runs
            .get_or_create(&RunLabels {
                project: project.into(),
                spec: spec.into(),
                action: action.into(),
                result: result.into(),
            })
            .inc();
        if let Ok(mut t) = self.tally.lock() {
            t.runs += 1;
            if result != "ok" {
                t.runs_not_ok += 1;
            }
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut s = String::new();
        // Writing into a String does not fail; should the encoder ever, the scrape is partial.
        if let Err(e) = prometheus_text::encode(&mut s, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        s
    }

    fn attempt(&self, tally: &mut Tally, class: &str, ad: String) {
        *tally.by_class.entry(class.to_string()).or_default() += 1;
        self.attempts
            .get_or_create(&AttemptLabels {
                class: class.to_string(),
                ad,
            })
            .inc();
    }
}

/// `AP-SEOUL-1-AD-1` from `Uocm:AP-SEOUL-1-AD-1`; `-` without an AD.
fn short_ad(ad: Option<&String>) -> String {
    ad.map_or_else(|| "-".into(), |a| short_zone(a).to_string())
}

impl Observer for Metrics {
    fn event(&self, event: Event) {
        let Ok(mut t) = self.tally.lock() else { return };
        match event {
            Event::AttemptStarted {
                instance,
                placement,
                ..
            } => {
                t.pending
                    .insert(instance, short_ad(placement.zone.as_ref()));
            }
            Event::AttemptFailed {
                instance,
                placement,
                class,
                ..
            } => {
                t.pending.remove(&instance);
                let ad = short_ad(placement.zone.as_ref());
                self.attempt(&mut t, class.as_str(), ad);
            }
            Event::Report(r) if r.outcome == Outcome::Success && !r.details.is_empty() => {
                let launched = t.pending.remove(&r.instance);
                let running = r.details.has_address();
                if let Some(ad) = &launched {
                    self.attempt(&mut t, "success", ad.clone());
                    self.launched.inc();
                }
                // Power actions report success too; only launches and running instances count.
                if launched.is_some() || running {
                    self.last_success.set(Utc::now().timestamp());
                }
            }
            _ => {}
        }
    }
}

impl DailySummary for Metrics {
    fn summary(
        &self,
        _: &Path,
        _: DateTime<Utc>,
        _: super::DailyScope<'_>,
    ) -> Result<String, String> {
        let t = self
            .tally
            .lock()
            .map_err(|_| "the daemon's counters are unavailable".to_string())?;
        let total: u64 = t.by_class.values().sum();
        let classes: Vec<String> = t.by_class.iter().map(|(k, v)| format!("{k} {v}")).collect();
        Ok(format!(
            "since the daemon started ({}): {total} launch attempt(s){}, {} instance(s) launched, {} scheduled run(s) ({} not ok)",
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true),
            if classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", classes.join(", "))
            },
            self.launched.get(),
            t.runs,
            t.runs_not_ok
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, PlacementInfo, ResourceReport};

    #[test]
    fn metrics_count_attempts_by_class_and_ad_and_the_last_success() {
        let m = Metrics::new();
        let at = |ad: &str| PlacementInfo {
            label: ad.to_string(),
            zone: Some(format!("Uocm:AP-SEOUL-1-{ad}")),
        };
        m.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 1,
            placement: at("AD-1"),
        });
        m.event(Event::AttemptFailed {
            instance: "a1-01".into(),
            attempt: 1,
            placement: at("AD-1"),
            class: ErrorClass::Capacity,
            message: "Out of host capacity.".into(),
            next_try_in: None,
        });
        m.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 2,
            placement: at("AD-2"),
        });
        m.event(Event::Report(Box::new(
            ResourceReport::new("a1-01", "Instance", "a1-01", Outcome::Success, "launched")
                .with(|d| d.id = Some("ocid1.instance.x".into())),
        )));
        m.schedule_run("p", "a1", "stop", "ok");
        let text = m.render();
        assert!(text.contains("vauto_attempts_total{class=\"capacity\",ad=\"AP-SEOUL-1-AD-1\"} 1"));
        assert!(text.contains("vauto_attempts_total{class=\"success\",ad=\"AP-SEOUL-1-AD-2\"} 1"));
        assert!(text.contains("vauto_instances_launched_total 1"));
        assert!(!text.contains("vauto_last_success_timestamp_seconds 0\n"));
        assert!(text.contains(
            "vauto_schedule_runs_total{project=\"p\",spec=\"a1\",action=\"stop\",result=\"ok\"} 1"
        ));
        let summary = m
            .summary(
                Path::new("."),
                Utc::now(),
                super::super::DailyScope {
                    project: "p",
                    tz: chrono_tz::UTC,
                },
            )
            .unwrap();
        assert!(summary.contains("2 launch attempt(s) (capacity 1, success 1)"));
    }

    #[test]
    fn an_idle_daemon_exposes_the_old_names_help_and_type_lines() {
        // A labelled family without samples has no HELP/TYPE lines (the hand-written text had
        // them); Prometheus needs neither without samples.
        let text = Metrics::new().render();
        assert_eq!(
            text,
            "# HELP vauto_up The daemon is running.\n# TYPE vauto_up gauge\nvauto_up 1\n\
             # HELP vauto_instances_launched_total Instances launched by this daemon.\n\
             # TYPE vauto_instances_launched_total counter\nvauto_instances_launched_total 0\n\
             # HELP vauto_last_success_timestamp_seconds When an instance was last launched or found running (0: never).\n\
             # TYPE vauto_last_success_timestamp_seconds gauge\nvauto_last_success_timestamp_seconds 0\n"
        );
        let m = Metrics::new();
        m.schedule_run("p", "a1", "stop", "failed");
        assert!(m.render().ends_with(
            "# HELP vauto_schedule_runs_total Scheduled actions run, by result (ok, failed, skipped).\n\
             # TYPE vauto_schedule_runs_total counter\n\
             vauto_schedule_runs_total{project=\"p\",spec=\"a1\",action=\"stop\",result=\"failed\"} 1\n"
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.schedule_run("p", "a\"b\\c\nd", "stop", "ok");
        assert!(
            m.render().contains(r#"spec="a\"b\\c\nd""#),
            "{}",
            m.render()
        );
    }
}
