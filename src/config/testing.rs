//! Projects and specs from YAML text for unit tests, checked as the loader checks files
//! (templates come from the repository's `templates/`).

use super::*;

fn dir() -> ConfigDir {
    ConfigDir {
        root: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        env: Env::default(),
    }
}

/// The `name:` the text gives, else `fallback`: the file stem the checks expect.
fn stem_of(yaml: &str, fallback: &str) -> String {
    yaml.lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map_or(fallback.to_string(), |n| n.trim().to_string())
}

/// A project from `yaml` (named by its `name:`, else `lab`).
pub(crate) fn project(yaml: &str) -> Project {
    let path = PathBuf::from(format!("projects/{}.yaml", stem_of(yaml, "lab")));
    match dir().project_from(Source::from_text(&path, yaml.to_string())) {
        Ok(p) => p,
        Err(e) => panic!("test project does not load: {e}"),
    }
}

/// A spec from `yaml` (named by its `name:`, else `web`) for `kind`.
pub(crate) fn spec(yaml: &str, kind: ProviderKind) -> Spec {
    let path = PathBuf::from(format!("specs/{}.yaml", stem_of(yaml, "web")));
    match dir().spec_from(Source::from_text(&path, yaml.to_string()), Some(kind)) {
        Ok(s) => s,
        Err(e) => panic!("test spec does not load: {e}"),
    }
}
