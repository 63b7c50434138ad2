//! Label and field selectors as the Kubernetes API server parses them.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// Splits on commas that are not inside `( … )`.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn check_key(k: &str, whole: &str) -> Result<String, String> {
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(k.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {k:?} in {whole:?}"
        ))
    }
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: expected a ( … ) set in {whole:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

/// Parses `k=v,k!=v,k,!k,k in (a,b),k notin (a)`.
pub(crate) fn parse_labels(s: &str) -> Result<Vec<Requirement>, String> {
    let mut reqs = Vec::new();
    for term in split_terms(s) {
        let req = if let Some(k) = term.strip_prefix('!') {
            Requirement::NotExists(check_key(k.trim(), s)?)
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::Ne(check_key(k.trim(), s)?, v.trim().to_string())
        } else if let Some((k, v)) = term.split_once("==") {
            Requirement::Eq(check_key(k.trim(), s)?, v.trim().to_string())
        } else if let Some((k, v)) = term.split_once('=') {
            Requirement::Eq(check_key(k.trim(), s)?, v.trim().to_string())
        } else if let Some((k, rest)) = term.split_once(" notin ") {
            Requirement::NotIn(check_key(k.trim(), s)?, parse_set(rest, s)?)
        } else if let Some((k, rest)) = term.split_once(" in ") {
            Requirement::In(check_key(k.trim(), s)?, parse_set(rest, s)?)
        } else {
            Requirement::Exists(check_key(term, s)?)
        };
        reqs.push(req);
    }
    Ok(reqs)
}

/// Whether an object's `metadata.labels` satisfy every requirement.
pub(crate) fn labels_match(reqs: &[Requirement], obj: &Value) -> bool {
    let labels = obj.pointer("/metadata/labels");
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    reqs.iter().all(|r| match r {
        Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
        // As in Kubernetes, `!=` and `notin` also match objects without the label.
        Requirement::Ne(k, v) => get(k) != Some(v.as_str()),
        Requirement::Exists(k) => get(k).is_some(),
        Requirement::NotExists(k) => get(k).is_none(),
        Requirement::In(k, set) => get(k).is_some_and(|x| set.iter().any(|v| v == x)),
        Requirement::NotIn(k, set) => !get(k).is_some_and(|x| set.iter().any(|v| v == x)),
    })
}

/// The fields an API server selects Events by, besides `metadata.name` and
/// `metadata.namespace`: exactly these, anything else is 400 `field label not supported`
/// (kubernetes `pkg/apis/core/v1/conversion.go`, `AddFieldLabelConversionsForEvent`, and
/// `pkg/registry/core/event/strategy.go`, `ToSelectableFields`).
const EVENT_FIELDS: [&str; 11] = [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// One field selector term: dotted path, expected value, and whether it is `!=`.
pub(crate) type FieldReq = (String, String, bool);

/// Parses a field selector, accepting only the fields the real API server indexes.
pub(crate) fn parse_fields(s: &str, plural: &str) -> Result<Vec<FieldReq>, String> {
    let mut out = Vec::new();
    for term in split_terms(s) {
        let (k, v, neg) = if let Some((k, v)) = term.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = term.split_once("==") {
            (k, v, false)
        } else if let Some((k, v)) = term.split_once('=') {
            (k, v, false)
        } else {
            return Err(format!(
                "invalid selector: '{term}'; can't understand '{term}'"
            ));
        };
        let k = k.trim();
        let supported = matches!(k, "metadata.name" | "metadata.namespace")
            || (plural == "events" && EVENT_FIELDS.contains(&k))
            || (plural == "secrets" && k == "type")
            || (plural == "virtualmachineinstances" && k == "status.nodeName");
        if !supported {
            return Err(format!("field label not supported: {k}"));
        }
        out.push((k.to_string(), v.trim().to_string(), neg));
    }
    Ok(out)
}

/// Whether an object satisfies every field requirement (a missing field reads as "").
pub(crate) fn fields_match(reqs: &[FieldReq], obj: &Value) -> bool {
    // Field paths have no escapes: walk them without building a JSON pointer per object.
    let at = |field: &str| {
        field
            .split('.')
            .try_fold(obj, |v, k| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    reqs.iter().all(|(path, want, neg)| {
        let got = match path.as_str() {
            // An Event's `source` is its source component, else its reporting controller.
            "source" => Some(at("source.component"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| at("reportingComponent")),
            field => at(field),
        };
        (got == want) != *neg
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_supports_equality_set_and_existence() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "db"}}});
        let m = |s: &str| labels_match(&parse_labels(s).unwrap(), &obj);
        assert!(m("app=web,tier"));
        assert!(m("app==web,env!=prod,!env"));
        assert!(!m("app=web,tier!=db"));
        assert!(m("tier in (db, cache),app notin (api)"));
        assert!(!m("tier notin (db)"));
        assert!(!m("missing"));
        assert!(parse_labels("a b=c").is_err());
    }

    #[test]
    fn field_selector_rejects_unindexed_fields() {
        assert!(parse_fields("spec.foo=bar", "virtualmachines").is_err());
        let reqs = parse_fields("involvedObject.name=vm1,type!=Warning", "events").unwrap();
        let ev = json!({"involvedObject": {"name": "vm1"}, "type": "Normal"});
        assert!(fields_match(&reqs, &ev));
        let ev = json!({"involvedObject": {"name": "vm1"}, "type": "Warning"});
        assert!(!fields_match(&reqs, &ev));
        // Exactly the API server's Event fields: `involvedObject.` is no wildcard.
        assert_eq!(
            parse_fields("involvedObject.labels=x", "events"),
            Err("field label not supported: involvedObject.labels".to_string())
        );
        assert_eq!(
            parse_fields("message=x", "events"),
            Err("field label not supported: message".to_string())
        );
        assert!(parse_fields("involvedObject.kind=Pod,source=kubelet", "events").is_ok());
        // `source` falls back to the reporting controller.
        let reqs = parse_fields("source=virt-handler", "events").unwrap();
        assert!(fields_match(
            &reqs,
            &json!({"source": {}, "reportingComponent": "virt-handler"})
        ));
        assert!(fields_match(
            &reqs,
            &json!({"source": {"component": "virt-handler"}})
        ));
        assert!(!fields_match(
            &reqs,
            &json!({"source": {"component": "kubelet"}, "reportingComponent": "virt-handler"})
        ));
    }
}
