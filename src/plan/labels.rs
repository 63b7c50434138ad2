//! The ownership labels that mark a resource as vauto's.

use std::collections::BTreeMap;

/// `v-auto/managed=true` on everything vauto creates.
pub(crate) const LABEL_MANAGED: &str = "v-auto/managed";
/// The project that owns the resource.
pub(crate) const LABEL_PROJECT: &str = "v-auto/project";
/// The spec that owns the resource.
pub(crate) const LABEL_SPEC: &str = "v-auto/spec";
/// The instance the resource belongs to.
pub(crate) const LABEL_NAME: &str = "v-auto/name";

/// The four ownership labels of one instance.
pub(crate) fn ownership_labels(project: &str, spec: &str, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_SPEC.to_string(), spec.to_string()),
        (LABEL_NAME.to_string(), name.to_string()),
    ])
}

/// A Kubernetes label selector for a project, optionally one spec and one instance.
pub(crate) fn selector(project: &str, spec: Option<&str>, name: Option<&str>) -> String {
    let mut s = format!("{LABEL_MANAGED}=true,{LABEL_PROJECT}={project}");
    if let Some(spec) = spec {
        s.push_str(&format!(",{LABEL_SPEC}={spec}"));
    }
    if let Some(name) = name {
        s.push_str(&format!(",{LABEL_NAME}={name}"));
    }
    s
}

/// Whether `labels` mark a resource as owned by this project (and spec, when given).
pub(crate) fn is_owned(
    labels: &BTreeMap<String, String>,
    project: &str,
    spec: Option<&str>,
) -> bool {
    labels.get(LABEL_MANAGED).map(String::as_str) == Some("true")
        && labels.get(LABEL_PROJECT).map(String::as_str) == Some(project)
        && spec.is_none_or(|s| labels.get(LABEL_SPEC).map(String::as_str) == Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_selector() {
        let l = ownership_labels("lab", "web", "web-01");
        assert_eq!(l.len(), 4);
        assert_eq!(l["v-auto/managed"], "true");
        assert_eq!(
            selector("lab", Some("web"), None),
            "v-auto/managed=true,v-auto/project=lab,v-auto/spec=web"
        );
        assert!(is_owned(&l, "lab", Some("web")));
        assert!(!is_owned(&l, "lab", Some("db")));
        assert!(!is_owned(&l, "other", None));
        let mut unmanaged = l.clone();
        unmanaged.remove("v-auto/managed");
        assert!(!is_owned(&unmanaged, "lab", Some("web")));
    }
}
