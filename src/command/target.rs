//! `--target`: one instance by name, by OCI instance OCID, or by glob (`web-0*`), matched here
//! once for status, start, stop and delete, so that every provider selects alike and a
//! target that matches nothing is an error that names what exists.

use super::Selection;
use crate::error::Error;

/// Whether `target` selects the instance `name` with backend id `id`.
pub(super) fn matches(target: &str, name: &str, id: &str) -> bool {
    if target == name || (!id.is_empty() && target == id) {
        return true;
    }
    is_glob(target) && glob(target.as_bytes(), name.as_bytes())
}

fn is_glob(target: &str) -> bool {
    target.contains(['*', '?'])
}

/// `*` (any run of characters) and `?` (one character); everything else literal.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative with one backtrack point: linear enough for instance names.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == b'?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

/// Keeps what `--target` selects (everything without one); a target that selects nothing
/// is an error naming the instances that exist, and the closest one.
pub(super) fn select<T>(
    selection: &Selection,
    items: Vec<T>,
    key: impl Fn(&T) -> (&str, &str),
) -> Result<Vec<T>, Error> {
    let Some(target) = selection.target.as_deref() else {
        return Ok(items);
    };
    let mut known: Vec<String> = items.iter().map(|i| key(i).0.to_string()).collect();
    known.sort();
    known.dedup();
    let kept: Vec<T> = items
        .into_iter()
        .filter(|i| {
            let (name, id) = key(i);
            matches(target, name, id)
        })
        .collect();
    if !kept.is_empty() {
        return Ok(kept);
    }
    let place = match selection.spec_name() {
        Some(spec) => format!("{}/{spec}", selection.project.name),
        None => selection.project.name.to_string(),
    };
    let list = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    let hint = match crate::config::did_you_mean(target, &known) {
        Some(close) if !is_glob(target) => format!("; did you mean `{close}`?"),
        _ => String::new(),
    };
    Err(Error::Other(format!(
        "no instance `{target}` in {place}; known: {list}{hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_a_name_an_id_or_a_glob() {
        assert!(matches("web-01", "web-01", "ocid1.instance.x"));
        assert!(matches("ocid1.instance.x", "web-01", "ocid1.instance.x"));
        assert!(matches("web-0*", "web-01", ""));
        assert!(matches("*-0?", "web-02", ""));
        assert!(matches("*", "a", ""));
        assert!(!matches("web-0*", "web-10", ""));
        assert!(!matches("web-0", "web-01", ""));
        assert!(!matches("", "web-01", ""));
        assert!(!matches("w*b", "web-01", ""));
    }
}
