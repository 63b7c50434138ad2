//! Durable simulator state: a snapshot (`state.json`) plus an append-only journal (`state.log`).
//!
//! Every mutation appends one JSON line per changed object to the journal in a single
//! `O_APPEND` write, so a request costs O(1) on disk instead of a rewrite of the whole state.
//! The journal is folded into a fresh snapshot (temp file + rename) when a simulator starts
//! and when the journal outgrows the snapshot. Several vauto processes may serve the same
//! state folder: every read-modify-append runs under an exclusive lock on `state.lock`, and
//! each process first replays what the others appended. Journal lines hold whole objects,
//! so replaying a line twice (e.g. after a compaction raced a reader) gives the same state.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{Entry, Store, write_atomic};

/// The journal is compacted once it is larger than this and than the snapshot.
const COMPACT_MIN: u64 = 1024 * 1024;

/// Identity of a snapshot file: a rename gives a new inode, a rewrite a new length or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: std::time::SystemTime,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: meta.modified().ok()?,
        len: meta.len(),
        inode,
    })
}

/// What of the files on disk a store already reflects.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// The snapshot the store was loaded from (`None`: there was none).
    snapshot: Option<Stamp>,
    /// Journal bytes replayed (always the end of a whole line).
    log_offset: u64,
    /// Journal length when last looked at; more than `log_offset` means a torn last line.
    log_len: u64,
}

/// One journal line, as written.
#[derive(Serialize)]
struct LineOut<'a> {
    rv: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    put: Option<&'a Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    del: Option<&'a str>,
}

/// One journal line, as read.
#[derive(Deserialize)]
struct LineIn {
    rv: u64,
    #[serde(default)]
    put: Option<Entry>,
    #[serde(default)]
    del: Option<String>,
}

/// The state files of one simulator folder.
#[derive(Debug)]
pub(crate) struct Disk {
    snapshot: PathBuf,
    log: PathBuf,
    lock: File,
}

/// Holds the cross-process lock on the state folder until dropped.
pub(crate) struct Locked<'a> {
    disk: &'a Disk,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let _ = self.disk.lock.unlock();
    }
}

impl Disk {
    /// Opens (creating the lock file if needed) the state files in `dir`.
    pub(super) fn open(dir: &Path) -> Result<Self, String> {
        let lock_path = dir.join("state.lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| format!("cannot open `{}`: {e}", lock_path.display()))?;
        Ok(Self {
            snapshot: dir.join("state.json"),
            log: dir.join("state.log"),
            lock,
        })
    }

    /// Takes the exclusive cross-process lock; never held across an `.await`.
    pub(super) fn lock(&self) -> Result<Locked<'_>, String> {
        self.lock
            .lock()
            .map_err(|e| format!("cannot lock the simulator state: {e}"))?;
        Ok(Locked { disk: self })
    }

    /// Loads the snapshot and replays the journal (call with the lock held).
    pub(super) fn load(&self, _held: &Locked<'_>) -> Result<Store, String> {
        let seen = stamp(&self.snapshot);
        let mut store = match std::fs::read(&self.snapshot) {
            Ok(bytes) => serde_json::from_slice::<Store>(&bytes).map_err(|e| {
                format!(
                    "simulator state `{}` is not valid (delete it and `state.log` to start over): {e}",
                    self.snapshot.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Store::default(),
            Err(e) => return Err(format!("cannot read `{}`: {e}", self.snapshot.display())),
        };
        store.seen = Seen {
            snapshot: seen,
            ..Seen::default()
        };
        self.replay_tail(&mut store)?;
        Ok(store)
    }

    /// Brings the store up to date with what other processes wrote (call with the lock held).
    pub(super) fn refresh(&self, store: &mut Store, held: &Locked<'_>) -> Result<(), String> {
        let log_len = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        if stamp(&self.snapshot) != store.seen.snapshot || log_len < store.seen.log_offset {
            // Someone compacted: start over from their snapshot.
            *store = self.load(held)?;
        } else if log_len != store.seen.log_len {
            self.replay_tail(store)?;
        }
        Ok(())
    }

    /// Replays journal lines after `log_offset`; a torn last line is left unread.
    fn replay_tail(&self, store: &mut Store) -> Result<(), String> {
        let err = |e: std::io::Error| format!("cannot read `{}`: {e}", self.log.display());
        let mut file = match File::open(&self.log) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                store.seen.log_offset = 0;
                store.seen.log_len = 0;
                return Ok(());
            }
            Err(e) => return Err(err(e)),
        };
        file.seek(SeekFrom::Start(store.seen.log_offset))
            .map_err(err)?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).map_err(err)?;
        store.seen.log_len = store.seen.log_offset + tail.len() as u64;
        let whole = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in tail[..whole].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<LineIn>(line) {
                Ok(l) => apply(store, l),
                // A line torn by a killed process and completed by the next writer's newline.
                Err(e) => tracing::warn!(
                    "kubernetes simulator: skipping a bad line in `{}`: {e}",
                    self.log.display()
                ),
            }
        }
        store.seen.log_offset += whole as u64;
        Ok(())
    }

    /// Appends the changed objects as one write, then compacts if the journal grew large
    /// (call with the lock held, after `refresh`).
    pub(super) fn save(&self, store: &mut Store, held: &Locked<'_>) -> Result<(), String> {
        if store.changed.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        if store.seen.log_len > store.seen.log_offset {
            // End the torn line a killed writer left, so ours starts on a line of its own.
            buf.push(b'\n');
        }
        let enc = |e: serde_json::Error| format!("cannot encode state: {e}");
        for k in &store.changed {
            let line = LineOut {
                rv: store.resource_version,
                put: store.objects.get(k),
                del: if store.objects.contains_key(k) {
                    None
                } else {
                    Some(k)
                },
            };
            serde_json::to_writer(&mut buf, &line).map_err(enc)?;
            buf.push(b'\n');
        }
        let err = |e: std::io::Error| format!("cannot write `{}`: {e}", self.log.display());
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)
            .map_err(err)?;
        file.write_all(&buf).map_err(err)?;
        store.changed.clear();
        store.seen.log_len += buf.len() as u64;
        store.seen.log_offset = store.seen.log_len;
        let snapshot_len = store.seen.snapshot.map_or(0, |s| s.len);
        if store.seen.log_len > COMPACT_MIN.max(snapshot_len) {
            self.compact(store, held)?;
        }
        Ok(())
    }

    /// Writes the whole store as the new snapshot and empties the journal (lock held,
    /// store up to date). A crash between the two steps only replays lines already in it.
    pub(super) fn compact(&self, store: &mut Store, _held: &Locked<'_>) -> Result<(), String> {
        if store.seen.log_len == 0 && store.changed.is_empty() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&*store).map_err(|e| format!("cannot encode state: {e}"))?;
        write_atomic(&self.snapshot, &bytes, false)?;
        let err = |e: std::io::Error| format!("cannot write `{}`: {e}", self.log.display());
        match OpenOptions::new().write(true).open(&self.log) {
            Ok(f) => f.set_len(0).map_err(err)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        store.changed.clear();
        store.seen = Seen {
            snapshot: stamp(&self.snapshot),
            log_offset: 0,
            log_len: 0,
        };
        Ok(())
    }
}

/// Applies one journal line; whole-object puts make this idempotent.
fn apply(store: &mut Store, line: LineIn) {
    store.resource_version = store.resource_version.max(line.rv);
    if let Some(entry) = line.put {
        let k = super::store::key(&entry.plural, &entry.namespace, &entry.name);
        store.objects.insert(k, entry);
    } else if let Some(k) = line.del {
        store.objects.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(name: &str) -> Entry {
        Entry {
            plural: "secrets".into(),
            namespace: "default".into(),
            name: name.into(),
            object: json!({"metadata": {"name": name}}),
            sim: Default::default(),
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_later_lines_still_apply() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path()).unwrap();
        let held = disk.lock().unwrap();
        let mut a = disk.load(&held).unwrap();
        a.put(entry("one"));
        disk.save(&mut a, &held).unwrap();
        // A process killed in the middle of its write.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("state.log"))
            .unwrap();
        f.write_all(br#"{"rv":9,"put":{"plur"#).unwrap();
        disk.refresh(&mut a, &held).unwrap();
        a.put(entry("two"));
        disk.save(&mut a, &held).unwrap();
        let b = disk.load(&held).unwrap();
        let names: Vec<_> = b.objects.values().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(b.resource_version, 2);
    }

    #[test]
    fn compaction_keeps_everything_and_other_stores_reload() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path()).unwrap();
        let other = Disk::open(dir.path()).unwrap();
        let mut a = disk.load(&disk.lock().unwrap()).unwrap();
        let mut b = other.load(&other.lock().unwrap()).unwrap();
        {
            let held = disk.lock().unwrap();
            a.put(entry("one"));
            a.put(entry("two"));
            disk.save(&mut a, &held).unwrap();
            a.remove_cascade(&super::super::store::key("secrets", "default", "one"));
            disk.save(&mut a, &held).unwrap();
            disk.compact(&mut a, &held).unwrap();
        }
        assert_eq!(
            std::fs::metadata(dir.path().join("state.log"))
                .unwrap()
                .len(),
            0
        );
        let held = other.lock().unwrap();
        other.refresh(&mut b, &held).unwrap();
        let names: Vec<_> = b.objects.keys().cloned().collect();
        assert_eq!(names, ["secrets/default/two"]);
        assert_eq!(b.resource_version, 3);
    }
}
