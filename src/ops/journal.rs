//! The attempt journal: one JSON line per launch attempt and per action result in `<state>/journal.jsonl`.
//!
//! Lines are appended whole (one `write` on an `O_APPEND` handle), so two vauto processes
//! writing at once never interleave partial lines; rotation happens under an exclusive
//! advisory lock while writers hold a shared one.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::model::{Event, Observer, Outcome, PlacementInfo, ResourceReport};

/// The journal's file name inside the state directory.
pub(crate) const FILE_NAME: &str = "journal.jsonl";
/// Rotate once the journal grows past this many bytes (64 MiB).
pub(crate) const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Rotated files kept (`journal.jsonl.1` … `journal.jsonl.5`).
pub(crate) const DEFAULT_KEEP: usize = 5;
/// Messages longer than this are cut, so one chatty server cannot bloat the journal.
const MAX_MESSAGE: usize = 500;
/// The resource kinds whose creation means a launch attempt succeeded.
const MAIN_KINDS: &[&str] = &["Instance", "VirtualMachine"];

/// What a journal line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EntryKind {
    /// One launch attempt ended (in an error class or `success`).
    Attempt,
    /// One resource reached its outcome for the action (`success`, `skipped`, `failed`, `deleted`).
    Result,
}

/// One journal line. Never holds secrets: only names, placements, classes and server messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// When the attempt ended or the result came, UTC, `2026-11-22T19:56:49.123Z`.
    pub ts: String,
    /// Attempt or result.
    pub event: EntryKind,
    /// Project name.
    pub project: String,
    /// Spec name (empty when unknown).
    pub spec: String,
    /// Instance name.
    pub instance: String,
    /// `oci` or `kubevirt`.
    pub provider: String,
    /// The action word (`deploy`, `delete`, `start`, `stop`).
    pub action: String,
    /// 1-based attempt number (attempt lines, and results that ended an attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u64>,
    /// OCI availability domain, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad: Option<String>,
    /// Kubernetes node, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Attempt lines: the error class (`capacity`, `throttled`, …) or `success`;
    /// result lines: `success`, `skipped`, `failed` or `deleted`.
    pub outcome: String,
    /// Resource kind (result lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The server's message or the result's reason.
    #[serde(default)]
    pub message: String,
    /// Attempt lines: how long the attempt took; result lines: time since the instance's
    /// first attempt in this run (or since the run started).
    pub duration_ms: u64,
}

/// The current time in the journal's fixed, lexicographically sortable format.
pub(crate) fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The journal files on disk: appends whole lines and rotates by size.
#[derive(Debug, Clone)]
pub(crate) struct JournalFile {
    dir: PathBuf,
    max_bytes: u64,
    keep: usize,
}

impl JournalFile {
    /// The journal in `state_dir`, rotated at [`DEFAULT_MAX_BYTES`] keeping [`DEFAULT_KEEP`] files.
    pub(crate) fn new(state_dir: &Path) -> JournalFile {
        JournalFile {
            dir: state_dir.to_path_buf(),
            max_bytes: DEFAULT_MAX_BYTES,
            keep: DEFAULT_KEEP,
        }
    }

    #[cfg(test)]
    /// The same journal with another rotation size and number of rotated files (at least 1).
    pub(crate) fn with_rotation(mut self, max_bytes: u64, keep: usize) -> JournalFile {
        self.max_bytes = max_bytes.max(1);
        self.keep = keep.max(1);
        self
    }

    /// `<state>/journal.jsonl`.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn rotated(&self, n: usize) -> PathBuf {
        self.dir.join(format!("{FILE_NAME}.{n}"))
    }

    fn lock_file(&self) -> std::io::Result<File> {
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.dir.join("journal.lock"))
        };
        match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.dir)?;
                open()
            }
            r => r,
        }
    }

    /// Appends `entry` as one line; rotates when the file grew past the size limit.
    pub(crate) fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let lock = self.lock_file()?;
        // Shared: many writers at once; rotation takes it exclusively so no line
        // lands in a file that is being renamed away.
        lock.lock_shared()?;
        let len = {
            let mut f = self.open_for_append()?;
            if !ends_with_newline(&mut f)? {
                self.mend_torn_end(&lock)?;
                f = self.open_for_append()?;
            }
            // One write call on an O_APPEND handle: the kernel places the whole line at the end.
            let n = f.write(&line)?;
            if n < line.len() {
                // Only on a full disk or similar; finish the line rather than leave half of it.
                f.write_all(&line[n..])?;
            }
            f.metadata()?.len()
        };
        lock.unlock()?;
        if len > self.max_bytes {
            lock.lock()?;
            let r = self.rotate_locked();
            lock.unlock()?;
            r?;
        }
        Ok(())
    }

    fn open_for_append(&self) -> std::io::Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(self.path())
    }

    /// Ends a torn last line (disk full, crash mid-write) with `\n`, so the next record starts
    /// on a fresh line instead of being glued onto it and lost; `report` skips the torn line.
    ///
    /// The caller holds the shared lock and saw no `\n` at the end. That may only be another
    /// writer's line half-way in (reads do not wait for writes), so look again with the lock
    /// held exclusively, when no writer is in: a line still without its `\n` is torn.
    fn mend_torn_end(&self, lock: &File) -> std::io::Result<()> {
        lock.unlock()?;
        lock.lock()?;
        let mended = self
            .open_for_append()
            .and_then(|mut f| match ends_with_newline(&mut f) {
                Ok(false) => f.write_all(b"\n"),
                other => other.map(|_| ()),
            });
        lock.unlock()?;
        lock.lock_shared()?;
        mended
    }

    /// Renames `journal.jsonl` to `.1` (and `.1` to `.2` …); the caller holds the exclusive lock.
    fn rotate_locked(&self) -> std::io::Result<()> {
        // Another process may have rotated while we waited for the lock.
        match std::fs::metadata(self.path()) {
            Ok(m) if m.len() > self.max_bytes => {}
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        let _ = std::fs::remove_file(self.rotated(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                std::fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        std::fs::rename(self.path(), self.rotated(1))
    }
}

/// Whether `f` is empty or ends with `\n`: one byte read at the end, however big the file.
fn ends_with_newline(f: &mut File) -> std::io::Result<bool> {
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1))?;
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// The journal files of `state_dir` that exist, oldest first (`.N` … `.1`, then the live file).
pub(crate) fn files_oldest_first(state_dir: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(usize, PathBuf)> = std::fs::read_dir(state_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name
                .to_str()?
                .strip_prefix(FILE_NAME)?
                .strip_prefix('.')?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let live = state_dir.join(FILE_NAME);
    if live.is_file() {
        out.push(live);
    }
    out
}

/// Failed attempts of each instance of `project`/`spec` since its last successful launch,
/// read from the live journal file: what earlier passes of a hunt already tried.
///
/// Unreadable files and lines count as nothing; the numbers only label notes.
pub(crate) fn attempts_since_success(
    state_dir: &Path,
    project: &str,
    spec: &str,
) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(file) = File::open(state_dir.join(FILE_NAME)) else {
        return out;
    };
    for line in std::io::BufRead::lines(std::io::BufReader::new(file)).map_while(Result::ok) {
        let Ok(e) = serde_json::from_str::<Entry>(&line) else {
            continue;
        };
        if e.event != EntryKind::Attempt || e.project != project || e.spec != spec {
            continue;
        }
        if e.outcome == "success" {
            out.remove(&e.instance);
        } else {
            *out.entry(e.instance).or_insert(0) += 1;
        }
    }
    out
}

/// What a journal line says about the run it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct RunInfo {
    /// Project name.
    pub project: String,
    /// Spec name; empty when the action covers several specs.
    pub spec: String,
    /// `oci` or `kubevirt`.
    pub provider: String,
    /// The action word.
    pub action: String,
}

#[derive(Default)]
struct InstanceState {
    first_attempt: Option<Instant>,
    open: Option<(u64, PlacementInfo, Instant)>,
    last_ad: Option<String>,
}

/// An [`Observer`] that writes attempts and results to the journal (and the log at info).
///
/// Write failures are logged once as a warning and never stop the run.
pub(crate) struct Journal {
    file: JournalFile,
    run: RunInfo,
    started: Instant,
    instances: Mutex<HashMap<String, InstanceState>>,
    specs: Mutex<HashMap<String, String>>,
    warned: AtomicBool,
}

impl Journal {
    /// A journal observer for one run.
    pub(crate) fn new(file: JournalFile, run: RunInfo) -> Journal {
        Journal {
            file,
            run,
            started: Instant::now(),
            instances: Mutex::new(HashMap::new()),
            specs: Mutex::new(HashMap::new()),
            warned: AtomicBool::new(false),
        }
    }

    /// Records which spec `instance` belongs to (actions over several specs).
    pub(crate) fn set_spec(&self, instance: &str, spec: &str) {
        if let Ok(mut m) = self.specs.lock() {
            m.insert(instance.to_string(), spec.to_string());
        }
    }

    fn entry(&self, event: EntryKind, instance: &str, outcome: &str, message: &str) -> Entry {
        let spec = self
            .specs
            .lock()
            .ok()
            .and_then(|m| m.get(instance).cloned())
            .unwrap_or_else(|| self.run.spec.clone());
        Entry {
            ts: timestamp(chrono::Utc::now()),
            event,
            project: self.run.project.clone(),
            spec,
            instance: instance.to_string(),
            provider: self.run.provider.clone(),
            action: self.run.action.clone(),
            attempt: None,
            ad: None,
            node: None,
            outcome: outcome.to_string(),
            kind: None,
            message: cut(message),
            duration_ms: 0,
        }
    }

    fn write(&self, e: &Entry) {
        tracing::info!(
            "{} {}/{} {} {}{}{}: {}{}",
            e.action,
            e.project,
            e.spec,
            e.instance,
            match e.event {
                EntryKind::Attempt => "attempt",
                EntryKind::Result => "result",
            },
            e.attempt.map(|a| format!(" {a}")).unwrap_or_default(),
            e.ad.as_deref()
                .or(e.node.as_deref())
                .map(|w| format!(" in {w}"))
                .unwrap_or_default(),
            e.outcome,
            if e.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.message)
            }
        );
        if let Err(err) = self.file.append(e) {
            if self.warned.swap(true, Ordering::Relaxed) {
                tracing::debug!("cannot append to `{}`: {err}", self.file.path().display());
            } else {
                tracing::warn!(
                    "cannot append to the journal `{}`: {err} (the run goes on)",
                    self.file.path().display()
                );
            }
        }
    }

    fn on_report(&self, r: &ResourceReport) {
        let now = Instant::now();
        let detail = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let (open, first, last_ad) = match self.instances.lock() {
            Ok(mut m) => {
                let st = m.entry(r.instance.clone()).or_default();
                let open = if r.outcome == Outcome::Success && MAIN_KINDS.contains(&r.kind.as_str())
                {
                    st.open.take()
                } else {
                    st.open.clone()
                };
                (open, st.first_attempt, st.last_ad.clone())
            }
            Err(_) => (None, None, None),
        };
        let ad = detail(&r.details.availability_domain)
            .or_else(|| open.as_ref().and_then(|o| o.1.zone.clone()).or(last_ad));
        let node = detail(&r.details.node);
        if r.outcome == Outcome::Success
            && MAIN_KINDS.contains(&r.kind.as_str())
            && let Some((n, _, started)) = &open
        {
            let mut e = self.entry(EntryKind::Attempt, &r.instance, "success", &r.reason);
            e.attempt = Some(*n);
            e.ad = ad.clone();
            e.node = node.clone();
            e.duration_ms = ms(now.duration_since(*started));
            self.write(&e);
        }
        let outcome = match r.outcome {
            Outcome::Success => "success",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Deleted => "deleted",
            Outcome::NoCapacity => "no_capacity",
        };
        let mut e = self.entry(EntryKind::Result, &r.instance, outcome, &r.reason);
        e.attempt = open.as_ref().map(|o| o.0);
        e.ad = ad;
        e.node = node;
        e.kind = Some(r.kind.clone());
        e.duration_ms = ms(now.duration_since(first.unwrap_or(self.started)));
        self.write(&e);
    }
}

impl Observer for Journal {
    fn event(&self, event: Event) {
        match event {
            Event::AttemptStarted {
                instance,
                attempt,
                placement,
            } => {
                if let Ok(mut m) = self.instances.lock() {
                    let st = m.entry(instance).or_default();
                    let now = Instant::now();
                    st.first_attempt.get_or_insert(now);
                    st.last_ad.clone_from(&placement.zone);
                    st.open = Some((attempt, placement, now));
                }
            }
            Event::AttemptFailed {
                instance,
                attempt,
                placement,
                class,
                message,
                ..
            } => {
                let started = self
                    .instances
                    .lock()
                    .ok()
                    .and_then(|mut m| m.get_mut(&instance).and_then(|s| s.open.take()))
                    .map(|o| o.2);
                let mut e = self.entry(EntryKind::Attempt, &instance, class.as_str(), &message);
                e.attempt = Some(attempt);
                e.ad = placement.zone;
                e.duration_ms = started.map(|s| ms(s.elapsed())).unwrap_or(0);
                self.write(&e);
            }
            Event::Report(r) => self.on_report(&r),
            Event::Progress { .. } | Event::Note { .. } => {}
        }
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorClass;

    fn entry(i: usize) -> Entry {
        Entry {
            ts: timestamp(chrono::Utc::now()),
            event: EntryKind::Attempt,
            project: "lab".into(),
            spec: "a1".into(),
            instance: format!("a1-{i:02}"),
            provider: "oci".into(),
            action: "deploy".into(),
            attempt: Some(i as u64),
            ad: Some("Uocm:PHX-AD-1".into()),
            node: None,
            outcome: "capacity".into(),
            kind: None,
            message: "Out of host capacity.".into(),
            duration_ms: 12,
        }
    }

    fn lines(path: &Path) -> Vec<Entry> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn append_writes_one_parseable_line_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        let j = JournalFile::new(&dir.path().join("state"));
        j.append(&entry(1)).unwrap();
        j.append(&entry(2)).unwrap();
        let mut got = lines(&j.path());
        for e in &mut got {
            assert_eq!(e.ts.len(), 24, "fixed-width timestamp: {}", e.ts);
            e.ts.clear();
        }
        let mut want = vec![entry(1), entry(2)];
        for e in &mut want {
            e.ts.clear();
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let j = JournalFile::new(dir.path());
        j.append(&entry(1)).unwrap();
        // A crash or a full disk cut the second record short.
        let torn = serde_json::to_string(&entry(2)).unwrap();
        let mut f = OpenOptions::new().append(true).open(j.path()).unwrap();
        f.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
        drop(f);
        j.append(&entry(3)).unwrap();
        let text = std::fs::read_to_string(j.path()).unwrap();
        let parsed: Vec<Result<Entry, _>> =
            text.lines().map(serde_json::from_str::<Entry>).collect();
        assert_eq!(parsed.len(), 3, "{text}");
        assert!(parsed[1].is_err(), "the torn line stays torn: {text}");
        assert_eq!(parsed[2].as_ref().unwrap().instance, "a1-03");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn rotation_keeps_n_files_and_loses_no_recent_line() {
        let dir = tempfile::tempdir().unwrap();
        let j = JournalFile::new(dir.path()).with_rotation(1000, 2);
        for i in 0..40 {
            j.append(&entry(i)).unwrap();
        }
        let files = files_oldest_first(dir.path());
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // The live file is absent right after a rotation, present otherwise.
        assert_eq!(names[..2], ["journal.jsonl.2", "journal.jsonl.1"]);
        assert!(names.len() == 2 || names[2] == "journal.jsonl", "{names:?}");
        assert!(!dir.path().join("journal.jsonl.3").exists());
        // Every kept line is whole and the newest entries are all there, in order.
        let all: Vec<Entry> = files.iter().flat_map(|p| lines(p)).collect();
        let attempts: Vec<u64> = all.iter().map(|e| e.attempt.unwrap()).collect();
        assert_eq!(*attempts.last().unwrap(), 39);
        assert!(
            attempts.windows(2).all(|w| w[1] == w[0] + 1),
            "{attempts:?}"
        );
        for p in &files[..2] {
            assert!(std::fs::metadata(p).unwrap().len() > 1000);
        }
    }

    #[test]
    fn concurrent_writers_never_break_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let j = JournalFile::new(dir.path()).with_rotation(200_000, 3);
                std::thread::spawn(move || {
                    let mut e = entry(t);
                    e.message = format!("writer {t} {}", "x".repeat(300 + t * 700));
                    for i in 0..500 {
                        e.attempt = Some(i);
                        j.append(&e).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut total = 0;
        for p in files_oldest_first(dir.path()) {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.ends_with('\n'));
            for l in text.lines() {
                let e: Entry = serde_json::from_str(l)
                    .unwrap_or_else(|err| panic!("broken line in {}: {err}: {l}", p.display()));
                assert!(e.message.starts_with("writer "));
                total += 1;
            }
        }
        // Rotation keeps 3 old files: some lines may be gone, never half of one.
        assert!(total > 0);
    }

    #[test]
    fn journal_observer_records_attempts_and_the_landing_ad() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(
            JournalFile::new(dir.path()),
            RunInfo {
                project: "lab".into(),
                spec: "a1".into(),
                provider: "oci".into(),
                action: "deploy".into(),
            },
        );
        let p1 = PlacementInfo {
            label: "PHX-AD-1".into(),
            zone: Some("Uocm:PHX-AD-1".into()),
        };
        let p2 = PlacementInfo {
            label: "PHX-AD-2".into(),
            zone: Some("Uocm:PHX-AD-2".into()),
        };
        j.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 1,
            placement: p1.clone(),
        });
        j.event(Event::AttemptFailed {
            instance: "a1-01".into(),
            attempt: 1,
            placement: p1,
            class: ErrorClass::Capacity,
            message: "Out of host capacity.".into(),
            next_try_in: None,
        });
        j.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 2,
            placement: p2,
        });
        j.event(Event::Report(Box::new(
            ResourceReport::new("a1-01", "Instance", "a1-01", Outcome::Success, "launched").with(
                |d| {
                    d.availability_domain = Some("Uocm:PHX-AD-2".into());
                    d.ssh = Some("ssh ubuntu@203.0.113.9".into());
                },
            ),
        )));
        let got = lines(&dir.path().join(FILE_NAME));
        let summary: Vec<(EntryKind, Option<u64>, Option<&str>, &str)> = got
            .iter()
            .map(|e| (e.event, e.attempt, e.ad.as_deref(), e.outcome.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    EntryKind::Attempt,
                    Some(1),
                    Some("Uocm:PHX-AD-1"),
                    "capacity"
                ),
                (
                    EntryKind::Attempt,
                    Some(2),
                    Some("Uocm:PHX-AD-2"),
                    "success"
                ),
                (EntryKind::Result, Some(2), Some("Uocm:PHX-AD-2"), "success"),
            ]
        );
        assert!(got.iter().all(|e| e.project == "lab" && e.spec == "a1"));
        assert_eq!(got[2].kind.as_deref(), Some("Instance"));
    }

    #[test]
    fn kubevirt_launch_counts_once_and_multi_spec_deletes_name_their_spec() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(
            JournalFile::new(dir.path()),
            RunInfo {
                project: "lab".into(),
                spec: String::new(),
                provider: "kubevirt".into(),
                action: "deploy".into(),
            },
        );
        j.event(Event::AttemptStarted {
            instance: "web-01".into(),
            attempt: 1,
            placement: PlacementInfo::default(),
        });
        for kind in ["Secret", "DataVolume", "VirtualMachine"] {
            j.event(Event::Report(Box::new(ResourceReport::new(
                "web-01",
                kind,
                "web-01",
                Outcome::Success,
                "created",
            ))));
        }
        j.set_spec("db-01", "db");
        j.event(Event::Report(Box::new(
            ResourceReport::new(
                "db-01",
                "VirtualMachine",
                "db-01",
                Outcome::Success,
                "running",
            )
            .with(|d| d.node = Some("worker-2".into())),
        )));
        let got = lines(&dir.path().join(FILE_NAME));
        let attempts: Vec<&Entry> = got
            .iter()
            .filter(|e| e.event == EntryKind::Attempt)
            .collect();
        // Only the VirtualMachine ends the attempt; the Secret and DataVolume are steps.
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, "success");
        assert_eq!(
            got.iter().filter(|e| e.event == EntryKind::Result).count(),
            4
        );
        let db = got.last().unwrap();
        assert_eq!(
            (db.spec.as_str(), db.node.as_deref()),
            ("db", Some("worker-2"))
        );
    }

    #[test]
    fn write_failure_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        // The state "directory" is a file: every append fails.
        let state = dir.path().join("file");
        std::fs::write(&state, "x").unwrap();
        let j = Journal::new(
            JournalFile::new(&state),
            RunInfo {
                project: "lab".into(),
                spec: "a1".into(),
                provider: "oci".into(),
                action: "deploy".into(),
            },
        );
        j.event(Event::Report(Box::new(ResourceReport::new(
            "a1-01",
            "Instance",
            "a1-01",
            Outcome::Failed,
            "boom",
        ))));
        assert!(j.warned.load(Ordering::Relaxed));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let s = "é".repeat(400);
        let c = cut(&s);
        assert!(c.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }

    #[test]
    fn attempts_since_success_counts_each_instance_from_its_last_launch() {
        let dir = tempfile::tempdir().unwrap();
        let line = |inst: &str, spec: &str, outcome: &str| {
            format!(
                r#"{{"ts":"2026-11-01T03:00:00.000Z","event":"attempt","project":"lab","spec":"{spec}","instance":"{inst}","provider":"oci","action":"deploy","attempt":1,"outcome":"{outcome}","message":"m","duration_ms":1}}"#
            )
        };
        let lines = [
            line("a1-01", "a1", "capacity"),
            line("a1-01", "a1", "success"),
            line("a1-01", "a1", "capacity"),
            line("a1-01", "a1", "throttled"),
            line("a1-02", "a1", "capacity"),
            line("x-01", "other", "capacity"),
            "{torn".to_string(),
        ];
        std::fs::write(dir.path().join(FILE_NAME), lines.join("\n")).unwrap();
        let got = attempts_since_success(dir.path(), "lab", "a1");
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            vec![("a1-01".to_string(), 2), ("a1-02".to_string(), 1)]
        );
    }
}
