//! Reading one YAML file: strict deserialisation, `${VAR}` expansion, and field locations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::env::{Env, with_env};
use super::{ConfigError, ConfigErrors};

/// One configuration file's text plus an index from field path to its position.
#[derive(Debug)]
pub(crate) struct Source {
    /// The file's path, as shown in errors.
    pub path: PathBuf,
    /// The raw text.
    pub text: String,
    /// Field path (`network.ipam.range`, `schedules[0].cron`) → (line, column), 1-based.
    index: HashMap<String, (usize, usize)>,
    /// The first key written twice in one mapping (serde only says "duplicate field", at 1:1).
    duplicate: Duplicate,
}

impl Source {
    /// Reads `path`; an unreadable or oversized file is an error naming it.
    pub(crate) fn read(path: &Path) -> Result<Source, ConfigError> {
        let text = read_limited(path).map_err(|e| e.config_error(path))?;
        Ok(Source::from_text(path, text))
    }

    /// A source from text already in memory.
    pub(crate) fn from_text(path: &Path, text: String) -> Source {
        let (index, duplicate) = index_positions(&text);
        Source {
            path: path.to_path_buf(),
            text,
            index,
            duplicate,
        }
    }

    /// Deserialises the whole file into `T`, rejecting unknown keys, expanding `${VAR}`.
    /// A file with several problems (two unknown keys, a wrong type) gets them all.
    pub(crate) fn parse<T: DeserializeOwned>(&self, env: &Env) -> Result<T, ConfigErrors> {
        if self.text.trim().is_empty() {
            return Err(
                ConfigError::file(&self.path, "file is empty: expected a YAML mapping").into(),
            );
        }
        if let Some((field, (line, column), first)) = &self.duplicate {
            return Err(ConfigError {
                file: self.path.clone(),
                line: Some(*line),
                column: Some(*column),
                field: field.clone(),
                message: format!(
                    "given twice in the same mapping (first on line {first}): keep one (YAML does not let the second replace the first)"
                ),
            }
            .into());
        }
        let de = serde_yaml::Deserializer::from_str(&self.text);
        let first = match self.parse_with::<T, _>(env, de) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let mut errs = vec![first];
        self.more_errors::<T>(env, &mut errs);
        Err(ConfigErrors(errs))
    }

    /// serde stops at the first problem: drop the field it named and read the file again,
    /// until it reads or a problem has no field (a syntax error, a missing field).
    fn more_errors<T: DeserializeOwned>(&self, env: &Env, errs: &mut Vec<ConfigError>) {
        let Ok(mut value) = serde_yaml::from_str::<serde_yaml::Value>(&self.text) else {
            return;
        };
        // A file has a few dozen keys; the bound only guards against a loop.
        for _ in 0..50 {
            let Some(last) = errs.last() else { return };
            if last.field.is_empty() || !remove_field(&mut value, &last.field) {
                return;
            }
            match self.parse_with::<T, _>(env, value.clone()) {
                Ok(_) => return,
                // Dropping a required field's bad value only makes it missing: said already.
                Err(e) if e.message.starts_with("missing field") => return,
                Err(e) if errs.iter().any(|x| x.field == e.field) => return,
                Err(e) => errs.push(e),
            }
        }
    }

    fn parse_with<
        'de,
        T: DeserializeOwned,
        D: serde::Deserializer<'de, Error = serde_yaml::Error>,
    >(
        &self,
        env: &Env,
        de: D,
    ) -> Result<T, ConfigError> {
        let result = with_env(env, || {
            serde_path_to_error::deserialize::<_, T>(super::expand::Expand(de))
        });
        result.map_err(|err| {
            let field = err.path().to_string();
            let inner = err.into_inner();
            // The index knows exactly where a field is; serde_yaml's own mark is often the
            // enclosing mapping, so it is only the fallback.
            let (line, column) = match (self.index.get(&field), inner.location()) {
                (Some((l, c)), _) => (Some(*l), Some(*c)),
                (None, Some(loc)) => (Some(loc.line()), Some(loc.column())),
                (None, None) => match self.position(&field) {
                    Some((l, c)) => (Some(l), Some(c)),
                    None => (None, None),
                },
            };
            ConfigError {
                file: self.path.clone(),
                line,
                column,
                // serde_path_to_error writes `?` for a position inside a broken document.
                field: if field == "." || field.contains('?') {
                    String::new()
                } else {
                    field
                },
                message: clean_serde_message(&inner.to_string()),
            }
        })
    }

    /// The position of `field`, or of its nearest parent that is present in the file.
    pub(crate) fn position(&self, field: &str) -> Option<(usize, usize)> {
        let mut f = field.to_string();
        loop {
            if let Some(p) = self.index.get(&f) {
                return Some(*p);
            }
            let cut = f.rfind(['.', '['])?;
            f.truncate(cut);
        }
    }

    /// An error about `field` at its position in this file.
    pub(crate) fn error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let pos = self.position(field);
        ConfigError {
            file: self.path.clone(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// The largest project, spec, `.env` or template file vauto reads (1 MiB). Real ones are a few
/// KiB; a 50 MB YAML took 10 s and 593 MB to load before this limit, and nothing that big fits
/// in what a backend accepts anyway (OCI metadata: 32,000 bytes; a Kubernetes Secret: 1 MiB).
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a configuration file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file could not be opened or read, or is not UTF-8.
    Io(std::io::Error),
    /// The file is over [`MAX_FILE_BYTES`]: `size` bytes (only a lower bound when `at_least`:
    /// a file that grew while read, or a pipe or device that reports no size).
    TooBig { size: u64, at_least: bool },
    /// The file starts with a UTF-8 byte order mark (the file's path, for the fix).
    Bom(PathBuf),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read file: {e}"),
            ReadError::TooBig { size, at_least } => write!(
                f,
                "file is {}{size} bytes, over the limit of {MAX_FILE_BYTES} bytes (1 MiB) for projects, specs, .env and templates: is it the file you meant? Keep large data out of the configuration (a template can have cloud-init fetch it at boot)",
                if *at_least { "more than " } else { "" }
            ),
            ReadError::Bom(path) => write!(
                f,
                "the file starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' {}`)",
                path.display()
            ),
        }
    }
}

impl ReadError {
    /// Whether the file does not exist (a template loader answers "not found" then).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }

    /// The error as a configuration error of `path`: a byte order mark is at 1:1.
    pub(crate) fn config_error(&self, path: &Path) -> ConfigError {
        match self {
            ReadError::Bom(_) => ConfigError {
                file: path.to_path_buf(),
                line: Some(1),
                column: Some(1),
                field: String::new(),
                message: self.to_string(),
            },
            _ => ConfigError::file(path, self.to_string()),
        }
    }
}

/// Reads `path` as UTF-8 text unless it is over [`MAX_FILE_BYTES`].
///
/// The size is checked before reading (`stat`), and the read itself stops one byte past the
/// limit, so a file that grows meanwhile, or a pipe or device, never makes vauto read more.
pub(crate) fn read_limited(path: &Path) -> Result<String, ReadError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ReadError::TooBig {
            size,
            at_least: false,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooBig {
            size: MAX_FILE_BYTES,
            at_least: true,
        });
    }
    // The same words as `std::fs::read_to_string`.
    let text = String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })?;
    // Editors on Windows save "UTF-8 with BOM". YAML 1.2 allows a byte order mark at the
    // start of a stream, but serde_yaml reads it as a second document, and a template would
    // pass it on before `#cloud-config` (which cloud-init then ignores): refuse it with the
    // fix rather than guess (issue 12: every bad input gets file:line:column and the fix).
    if text.starts_with('\u{feff}') {
        return Err(ReadError::Bom(path.to_path_buf()));
    }
    Ok(text)
}

/// Removes the mapping entry at `field` (`a.b`, `list[0].c`) from `value`; false when there is
/// none, or it is a list item (removing one would shift the indexes of later errors).
fn remove_field(value: &mut serde_yaml::Value, field: &str) -> bool {
    let mut segments: Vec<&str> = Vec::new();
    for part in field.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            segments.push(&rest[..open]);
            let Some(close) = rest[open..].find(']') else {
                return false;
            };
            segments.push(&rest[open..open + close + 1]);
            rest = &rest[open + close + 1..];
        }
        segments.push(rest);
    }
    segments.retain(|s| !s.is_empty());
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    if last.starts_with('[') {
        return false;
    }
    let mut cur = value;
    for seg in parents {
        let next = match seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(i) => i.parse::<usize>().ok().and_then(|i| cur.get_mut(i)),
            None => cur.get_mut(*seg),
        };
        let Some(next) = next else { return false };
        cur = next;
    }
    cur.as_mapping_mut()
        .is_some_and(|m| m.shift_remove(*last).is_some())
}

/// serde_yaml appends " at line N column M" to messages; we print the position ourselves.
fn clean_serde_message(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    // "field.path: message" prefixes come from serde_yaml's own path tracking.
    let msg = match msg.split_once(": ") {
        Some((head, tail)) if !head.contains(' ') && !head.is_empty() && head != "invalid type" => {
            tail
        }
        _ => msg,
    };
    msg.to_string()
}

#[derive(Debug)]
enum Frame {
    Map {
        key: Option<String>,
        path: String,
        /// Keys seen so far in this mapping, with their line.
        seen: HashMap<String, usize>,
    },
    Seq {
        index: usize,
        path: String,
    },
}

struct Indexer {
    stack: Vec<Frame>,
    out: HashMap<String, (usize, usize)>,
    /// The first key written twice in one mapping: (path, position, line of the first).
    duplicate: Option<(String, (usize, usize), usize)>,
}

impl Indexer {
    /// The path of the value that starts now, advancing the parent's state.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { key, path, .. }) => {
                let k = key.take()?;
                Some(if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                })
            }
            Some(Frame::Seq { index, path }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                Some(p)
            }
        }
    }

    /// In a mapping waiting for a key, the next scalar is that key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(value, ..) => {
                if self.expecting_key() {
                    if let Some(Frame::Map { key, path, seen }) = self.stack.last_mut() {
                        let full = if path.is_empty() {
                            value.clone()
                        } else {
                            format!("{path}.{value}")
                        };
                        if let Some(first) = seen.insert(value.clone(), pos.0)
                            && self.duplicate.is_none()
                        {
                            self.duplicate = Some((full.clone(), pos, first));
                        }
                        // Point at the key: that is where an operator looks.
                        self.out.entry(full).or_insert(pos);
                        *key = Some(value);
                    }
                } else {
                    let _ = self.value_path().map(|p| self.out.entry(p).or_insert(pos));
                }
            }
            Event::MappingStart(..) => {
                let path = self.value_path().unwrap_or_default();
                self.out.entry(path.clone()).or_insert(pos);
                self.stack.push(Frame::Map {
                    key: None,
                    path,
                    seen: HashMap::new(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path().unwrap_or_default();
                self.out.entry(path.clone()).or_insert(pos);
                self.stack.push(Frame::Seq { index: 0, path });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                let _ = self.value_path();
            }
            _ => {}
        }
    }
}

/// A key given twice in one mapping: (path, position of the second, line of the first).
type Duplicate = Option<(String, (usize, usize), usize)>;

/// Builds the path → position index and finds the first duplicate key; a YAML syntax error
/// just ends the index early (serde_yaml reports the syntax error itself, with its position).
fn index_positions(text: &str) -> (HashMap<String, (usize, usize)>, Duplicate) {
    let mut indexer = Indexer {
        stack: Vec::new(),
        out: HashMap::new(),
        duplicate: None,
    };
    let mut parser = Parser::new_from_str(text);
    let _ = parser.load(&mut indexer, false);
    (indexer.out, indexer.duplicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_keys_and_items() {
        let text =
            "name: lab\nnetwork:\n  ipam:\n    range: 10.0.0.0/24\nlist:\n  - a\n  - {cron: x}\n";
        let s = Source::from_text(Path::new("p.yaml"), text.to_string());
        assert_eq!(s.position("name"), Some((1, 1)));
        assert_eq!(s.position("network.ipam.range"), Some((4, 5)));
        assert_eq!(s.position("list[0]"), Some((6, 5)));
        assert_eq!(s.position("list[1].cron"), Some((7, 6)));
        // Missing child falls back to the nearest parent.
        assert_eq!(s.position("network.ipam.gateway"), Some((3, 3)));
    }
}
