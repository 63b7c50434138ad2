//! `${VAR}` and `${VAR:-default}` substitution from the environment and a `.env` file.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;

/// Variables available to `${VAR}`: the process environment, then the `.env` file.
#[derive(Clone, Default)]
pub(crate) struct Env {
    dotenv: BTreeMap<String, String>,
    /// Overrides for tests; consulted before the process environment.
    overrides: BTreeMap<String, String>,
}

// Values may be secrets: never print them.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("dotenv_keys", &self.dotenv.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Env {
    /// The process environment plus `dir/.env` when it exists.
    pub(crate) fn load(dir: &Path) -> Result<Env, ConfigError> {
        let path = dir.join(".env");
        let mut dotenv = BTreeMap::new();
        if path.is_file() {
            let text = super::read_limited(&path).map_err(|e| match e {
                super::ReadError::Io(e) => ConfigError::file(&path, format!("cannot read: {e}")),
                other => other.config_error(&path),
            })?;
            let bindings =
                super::dotenv::parse(&text).map_err(|(line, column, message)| ConfigError {
                    file: path.clone(),
                    line: Some(line),
                    column: Some(column),
                    field: String::new(),
                    message,
                })?;
            dotenv.extend(bindings);
        }
        Ok(Env {
            dotenv,
            overrides: BTreeMap::new(),
        })
    }

    #[cfg(test)]
    /// An environment with only `vars` (tests).
    pub(crate) fn from_map(vars: BTreeMap<String, String>) -> Env {
        Env {
            dotenv: BTreeMap::new(),
            overrides: vars,
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(name) {
            return Some(v.clone());
        }
        if !self.overrides.is_empty() {
            return self.dotenv.get(name).cloned();
        }
        std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
    }

    /// Replaces every `${VAR}` / `${VAR:-default}` in `s`; `$${` is a literal `${`.
    pub(crate) fn expand(&self, s: &str) -> Result<String, String> {
        if !s.contains('$') {
            return Ok(s.to_string());
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(stripped) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = stripped;
            } else if let Some(body) = after.strip_prefix("${") {
                let end = body
                    .find('}')
                    .ok_or_else(|| format!("unterminated `${{` in {s:?}: expected `${{NAME}}`"))?;
                let inner = &body[..end];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if name.is_empty()
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || name.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(format!(
                        "`${{{inner}}}` is not a variable reference: expected `${{NAME}}` or `${{NAME:-default}}`"
                    ));
                }
                match (self.get(name), default) {
                    (Some(v), _) if !v.is_empty() || default.is_none() => out.push_str(&v),
                    (_, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(format!(
                            "environment variable `{name}` is not set (set it, add it to .env, or write `${{{name}:-default}}`)"
                        ));
                    }
                    (Some(v), None) => out.push_str(&v),
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Env>> = const { RefCell::new(None) };
}

/// Runs `f` with `env` as the environment that deserialised strings expand from.
pub(crate) fn with_env<T>(env: &Env, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| *c.borrow_mut() = Some(env.clone()));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

/// Expands `s` with the environment installed by [`with_env`] (none installed: unchanged).
pub(crate) fn expand_current(s: &str) -> Result<String, String> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(env) => env.expand(s),
        None => Ok(s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_map(BTreeMap::from([
            ("A".to_string(), "alpha".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]))
    }

    #[test]
    fn expands_set_and_default() {
        let e = env();
        assert_eq!(e.expand("x-${A}-y").unwrap(), "x-alpha-y");
        assert_eq!(e.expand("${NOPE:-dflt}").unwrap(), "dflt");
        assert_eq!(e.expand("${EMPTY:-dflt}").unwrap(), "dflt");
        assert_eq!(e.expand("${EMPTY}").unwrap(), "");
        assert_eq!(e.expand("$${A}").unwrap(), "${A}");
        assert_eq!(e.expand("cost $5").unwrap(), "cost $5");
    }

    #[test]
    fn unset_is_an_error_naming_the_variable() {
        let err = env().expand("${NOPE}").unwrap_err();
        assert!(err.contains("`NOPE` is not set"), "{err}");
        assert!(env().expand("${A").unwrap_err().contains("unterminated"));
        assert!(
            env()
                .expand("${1A}")
                .unwrap_err()
                .contains("not a variable")
        );
    }
}
