//! Name rules: Kubernetes label values, DNS-1123 labels, label keys, quantities.

/// Why `name` is not a DNS-1123 label (lowercase alphanumerics and `-`, at most 63), if it is not.
pub(crate) fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "is {} characters long: at most 63 are allowed",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("may contain only lowercase letters, digits and `-`".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// Why `name` is not a DNS-1123 subdomain (dot-separated DNS labels, at most 253), the rule
/// for ConfigMap, Secret, DataSource and instance type names (apimachinery
/// `IsDNS1123Subdomain`), if it is not.
pub(crate) fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!(
            "is {} characters long: at most 253 are allowed",
            name.len()
        ));
    }
    name.split('.').find_map(dns_label_problem).map(|p| {
        format!("is not a DNS subdomain (lowercase letters, digits, `-` and `.`): a part {p}")
    })
}

/// Why `v` is not a valid Kubernetes label value, if it is not.
pub(crate) fn label_value_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if v.len() > 63 {
        return Some(format!(
            "is {} characters long: at most 63 are allowed",
            v.len()
        ));
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("may contain only letters, digits, `-`, `_` and `.`".into());
    }
    let first = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let last = v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first || !last {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// Why `k` is not a valid Kubernetes label key (`[prefix/]name`), if it is not.
pub(crate) fn label_key_problem(k: &str) -> Option<String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        if p.is_empty() || p.len() > 253 {
            return Some("has an empty or too long prefix".into());
        }
        if p.split('.').any(|part| dns_label_problem(part).is_some()) {
            return Some(format!("prefix `{p}` is not a DNS subdomain"));
        }
    }
    if name.is_empty() {
        return Some("has an empty name".into());
    }
    label_value_problem(name)
}

/// Whether `q` is a Kubernetes resource quantity such as `4Gi`, `512M` or `30Gi`.
pub(crate) fn is_quantity(q: &str) -> bool {
    let digits_end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(digits_end);
    if num.is_empty() || num.parse::<f64>().map_or(true, |n| n <= 0.0) {
        return false;
    }
    matches!(
        suffix,
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E"
    )
}

/// The instance name of replica `index` (0-based): `<prefix>-01`, `-02`, ... `-100`.
pub(crate) fn instance_name(prefix: &str, index: u32) -> String {
    format!("{prefix}-{:02}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(dns_label_problem("web-01").is_none());
        assert!(dns_label_problem("Web").is_some());
        assert!(dns_label_problem("web_01").is_some());
        assert!(dns_label_problem("-web").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn label_values_and_keys() {
        assert!(label_value_problem("Team_A.1").is_none());
        assert!(label_value_problem("a b").is_some());
        assert!(label_key_problem("v-auto/managed").is_none());
        assert!(label_key_problem("example.com/x").is_none());
        assert!(label_key_problem("bad key").is_some());
        assert!(label_key_problem("/x").is_some());
    }

    #[test]
    fn quantities() {
        for ok in ["4Gi", "512Mi", "30Gi", "1", "1.5Gi", "2G"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["4GB", "Gi", "-1Gi", "0", "four"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn names_are_two_digits_then_grow() {
        assert_eq!(instance_name("web", 0), "web-01");
        assert_eq!(instance_name("web", 9), "web-10");
        assert_eq!(instance_name("web", 99), "web-100");
    }
}
