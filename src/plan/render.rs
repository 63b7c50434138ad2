//! Rendering cloud-init templates with minijinja in strict-undefined mode.

use minijinja::{Environment, UndefinedBehavior, context};

use super::DesiredInstance;
use crate::config::{ConfigDir, ConfigError, Project, Spec, read_limited};

/// A minijinja environment over `templates/` where an undefined variable is an error.
pub(super) fn environment(dir: &ConfigDir) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja keeps a template's source for its errors only in debug mode, which
    // `Environment::new` turns on for debug builds alone: without it a release binary says
    // "undefined variable" with neither the name nor the column (`template_error`).
    env.set_debug(true);
    env.set_loader(bounded_loader(dir.templates()));
    // minijinja would JSON-escape every value of a `*.yaml.j2` file; cloud-init authors
    // quote where YAML needs it (`| tojson`), like with Ansible or Helm.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // cloud-init files end with a newline; keep it. (Trim/lstrip blocks keep `{% %}` lines clean.)
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

/// minijinja's `path_loader` with the size limit of every configuration file: a template (or
/// an `{% include %}`d one) over 1 MiB (`config/source.rs` `MAX_FILE_BYTES`) is an error,
/// never read whole.
fn bounded_loader(
    root: std::path::PathBuf,
) -> impl Fn(&str) -> Result<Option<String>, minijinja::Error> + Send + Sync + 'static {
    move |name| {
        // The same rule as minijinja's `safe_join`: no `.`-segments (so no `..`), no `\`.
        if name
            .split('/')
            .any(|seg| seg.starts_with('.') || seg.contains('\\'))
        {
            return Ok(None);
        }
        let path = root.join(name);
        match read_limited(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("`{}`: {e}", path.display()),
            )),
        }
    }
}

/// The user data of `inst`: the spec's template rendered, or a minimal cloud-config.
pub(crate) fn render_cloud_init(
    env: &Environment<'static>,
    dir: &ConfigDir,
    project: &Project,
    spec: &Spec,
    inst: &DesiredInstance,
) -> Result<String, ConfigError> {
    let ip = inst.static_ip.as_ref();
    let ctx = context! {
        name => inst.name.as_str(),
        index => inst.index,
        replica => inst.index + 1,
        hostname => inst.name.as_str(),
        static_ip => ip.map(|i| i.address.to_string()),
        prefix_len => ip.map(|i| i.prefix_len),
        netmask => ip.map(|i| i.netmask.to_string()),
        gateway => ip.and_then(|i| i.gateway.map(|g| g.to_string())),
        dns => ip.map(|i| i.dns.clone()).unwrap_or_default(),
        project => project.name.as_str(),
        spec => spec.name.as_str(),
        ssh_authorized_keys => inst.ssh_authorized_keys.clone(),
        vars => minijinja::value::Serde(spec.cloud_init.as_ref().map(|c| c.vars.clone()).unwrap_or_default()),
    };
    let Some(ci) = &spec.cloud_init else {
        return Ok(default_user_data(inst));
    };
    let file = dir.templates().join(ci.template.as_str());
    let tmpl = env.get_template(ci.template.as_str()).map_err(|e| {
        // A byte order mark is said at 1:1 with the fix, like in a project or spec.
        match read_limited(&file) {
            Err(bom @ crate::config::ReadError::Bom(_)) => bom.config_error(&file),
            _ => template_error(&file, &e),
        }
    })?;
    tmpl.render(ctx).map_err(|e| {
        // One template serves many specs: say which one's values were missing.
        let mut err = template_error(&file, &e);
        if e.kind() == minijinja::ErrorKind::UndefinedError {
            err.message.push_str(&format!(
                " (rendering spec `{}`, {})",
                spec.name,
                spec.file.display()
            ));
        }
        err
    })
}

/// The names a template may use, in the order the README lists them.
const VARIABLES: &[&str] = &[
    "name",
    "index",
    "replica",
    "hostname",
    "static_ip",
    "prefix_len",
    "netmask",
    "gateway",
    "dns",
    "project",
    "spec",
    "ssh_authorized_keys",
    "vars",
];

/// Turns a minijinja error into a config error at the template's line (and column, when
/// minijinja knows the span).
pub(super) fn template_error(file: &std::path::Path, e: &minijinja::Error) -> ConfigError {
    if let Some(cycle) = include_cycle(e) {
        // The `{% include %}` tag's column, when minijinja knows its span.
        let column = e.template_source().zip(e.range()).and_then(|(src, r)| {
            let before = src.get(..r.start)?;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            Some(before.get(line_start..)?.chars().count() + 1)
        });
        return ConfigError {
            file: file.to_path_buf(),
            line: e.line(),
            column: e.line().and(column),
            field: String::new(),
            message: format!(
                "`{}` includes itself ({}): the include would never end; remove the `{{% include %}}` that closes the loop",
                cycle[0],
                cycle.join(" → ")
            ),
        };
    }
    let span = e
        .template_source()
        .zip(e.range())
        .and_then(|(src, r)| Some((src, r.start, src.get(r)?)));
    let message = match (e.kind(), span) {
        // minijinja's own detail (`undefined value`) does not say which name; the span does.
        (minijinja::ErrorKind::UndefinedError, Some((_, _, expr))) => undefined_message(expr),
        _ => {
            let what = match e.kind() {
                minijinja::ErrorKind::UndefinedError => "undefined variable",
                minijinja::ErrorKind::SyntaxError => "template syntax error",
                minijinja::ErrorKind::TemplateNotFound => "template not found",
                _ => "template error",
            };
            match e.detail() {
                Some(d) => format!("{what}: {d}"),
                None => what.to_string(),
            }
        }
    };
    // Only an undefined name has a span that points at what is wrong (a syntax error's
    // points wherever the parser gave up).
    let column = span
        .filter(|_| e.kind() == minijinja::ErrorKind::UndefinedError)
        .map(|(src, start, _)| {
            let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
            src[line_start..start].chars().count() + 1
        });
    ConfigError {
        file: file.to_path_buf(),
        line: e.line(),
        column: e.line().and(column),
        field: String::new(),
        message,
    }
}

/// The templates of an `{% include %}` loop (`a.j2`, `b.j2`, `a.j2`), read from the chain of
/// "error in" errors minijinja builds until its recursion limit stops it (a bare "error in
/// `t.j2`" at the top says nothing).
fn include_cycle(e: &minijinja::Error) -> Option<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut cur = Some(e);
    // Each link is a `BadInclude` named after the including template.
    while let Some(err) = cur {
        if err.kind() != minijinja::ErrorKind::BadInclude {
            return None;
        }
        let name = err.name()?.to_string();
        let closes = names.contains(&name);
        names.push(name);
        if closes {
            return Some(names);
        }
        cur = std::error::Error::source(err).and_then(|s| s.downcast_ref::<minijinja::Error>());
    }
    None
}

/// `` `hostnmae` is undefined (did you mean `hostname`?) `` and the names that exist.
fn undefined_message(expr: &str) -> String {
    let expr = expr.trim();
    // `vars.x` (or `vars["x"]`) is a missing key of the spec's `cloud_init.vars`.
    let head = expr
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or(expr);
    let known: Vec<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
    let hint = if head == "vars" {
        " (a key of the spec's `cloud_init.vars`)".to_string()
    } else {
        crate::config::did_you_mean(head, &known)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default()
    };
    format!(
        "`{expr}` is undefined{hint}: the variables are {}, and vars.NAME for each key of `cloud_init.vars`",
        VARIABLES[..VARIABLES.len() - 1].join(", ")
    )
}

fn default_user_data(inst: &DesiredInstance) -> String {
    let mut s = format!("#cloud-config\nhostname: {}\n", inst.name);
    if !inst.ssh_authorized_keys.is_empty() {
        s.push_str("ssh_authorized_keys:\n");
        for k in &inst.ssh_authorized_keys {
            s.push_str(&format!("  - {}\n", serde_json::Value::String(k.clone())));
        }
    }
    s
}

/// Checks that every `*.j2` under `templates/` parses; returns one error per broken file.
pub(crate) fn check_all_templates(dir: &ConfigDir) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    let root = dir.templates();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "j2") {
                let rel = p
                    .strip_prefix(&root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                match read_limited(&p) {
                    Err(e) => errs.push(e.config_error(&p)),
                    Ok(text) => {
                        let env = environment(dir);
                        if let Err(e) = env.template_from_named_str(&rel, &text) {
                            errs.push(template_error(&p, &e));
                        }
                    }
                }
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigDir, ProviderKind};
    use crate::plan::{PlanOptions, build};

    fn dir_with(template: &str) -> (tempfile::TempDir, ConfigDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            "projects/lab.yaml",
            "provider: kubevirt\nnetwork: {ipam: {range: 10.1.2.0/24, gateway: 10.1.2.1, dns: [10.1.2.53]}, bridge: br0}\n",
        );
        write(
            "specs/web.yaml",
            "replicas: 2\nmemory: 1Gi\ndisk: {size: 5Gi, source: {http: \"https://img.local/x.qcow2\"}}\n\
             cloud_init: {template: t.yaml.j2, vars: {greeting: hi, n: 3}}\n\
             ssh: {authorized_keys: [\"ssh-ed25519 AAAA k1\"]}\n",
        );
        write("templates/t.yaml.j2", template);
        let dir = ConfigDir::open(root).unwrap();
        (tmp, dir)
    }

    fn render(template: &str) -> Result<Vec<String>, String> {
        let (_tmp, dir) = dir_with(template);
        let project = dir.project("lab").map_err(|e| e.to_string())?;
        let spec = dir
            .spec("web", ProviderKind::Kubevirt)
            .map_err(|e| e.to_string())?;
        build(&dir, &project, &spec, &PlanOptions::default())
            .map(|p| p.instances.into_iter().map(|i| i.user_data).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn context_has_every_documented_variable() {
        let out = render(
            "{{ name }} {{ hostname }} {{ index }} {{ replica }} {{ static_ip }}/{{ prefix_len }} \
             {{ netmask }} {{ gateway }} {{ dns | join(',') }} {{ project }} {{ spec }} \
             {{ ssh_authorized_keys | length }} {{ vars.greeting }} {{ vars.n + 1 }}\n",
        )
        .unwrap();
        assert_eq!(
            out,
            [
                "web-01 web-01 0 1 10.1.2.101/24 255.255.255.0 10.1.2.1 10.1.2.53 lab web 1 hi 4\n",
                "web-02 web-02 1 2 10.1.2.102/24 255.255.255.0 10.1.2.1 10.1.2.53 lab web 1 hi 4\n",
            ]
        );
    }

    #[test]
    fn undefined_variables_are_errors_with_the_template_line() {
        let err =
            render("#cloud-config\nhostname: {{ name }}\nx: {{ vars.missing }}\n").unwrap_err();
        assert!(err.contains("t.yaml.j2:3"), "{err}");
        assert!(err.contains("undefined"), "{err}");
        let err = render("{{ hostnmae }}").unwrap_err();
        assert!(err.contains("t.yaml.j2:1:4: `hostnmae` is undefined (did you mean `hostname`?): the variables are name,"), "{err}");
        let err = render("a\nb: {{ vars.missing }}\n").unwrap_err();
        assert!(
            err.contains(
                "t.yaml.j2:2:7: `vars.missing` is undefined (a key of the spec's `cloud_init.vars`)"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_include_loop_names_the_templates() {
        let err = render("a\n{% include \"t.yaml.j2\" %}\n").unwrap_err();
        assert!(
            err.ends_with("t.yaml.j2:2:4: `t.yaml.j2` includes itself (t.yaml.j2 → t.yaml.j2): the include would never end; remove the `{% include %}` that closes the loop"),
            "{err}"
        );
    }

    #[test]
    fn values_are_not_escaped_and_tojson_quotes() {
        let out = render("a: {{ vars.greeting }}&<>\nb: {{ name | tojson }}\n").unwrap();
        assert_eq!(out[0], "a: hi&<>\nb: \"web-01\"\n");
    }
}
