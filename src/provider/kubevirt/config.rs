//! Builds a `kube::Client` from the project's `kubevirt:` section (kubeconfig, context, namespace).

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::config::{Project, expand_tilde};
use crate::model::{ErrorClass, ProviderError};
use crate::provider::ConnectOptions;

/// Per-request timeout when `ConnectOptions.timeout` is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the credentials come from, for messages (never holds secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// One or more kubeconfig files and the context used.
    Kubeconfig {
        /// The files read, in merge order.
        files: Vec<PathBuf>,
        /// The context used.
        context: String,
    },
    /// The pod's service account.
    InCluster,
    /// A client built by the caller (`KubevirtProvider::from_client`, tests).
    #[cfg(test)]
    Supplied,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Kubeconfig { files, context } => {
                let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "kubeconfig `{}` context `{context}`", files.join(":"))
            }
            Origin::InCluster => f.write_str("in-cluster service account"),
            #[cfg(test)]
            Origin::Supplied => f.write_str("a caller-supplied client"),
        }
    }
}

/// A connected client and the namespace every object goes to.
#[derive(Clone)]
pub(crate) struct Connection {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// The namespace of every object vauto creates.
    pub namespace: String,
    /// Where the credentials came from.
    pub origin: Origin,
}

impl std::fmt::Debug for Connection {
    // The client holds credentials; show only where they came from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("namespace", &self.namespace)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The kubeconfig files to read, in order of precedence, or `None` for in-cluster.
///
/// `override_path` (the simulator's kubeconfig) wins, then the project's `kubeconfig`
/// (`~` expanded), then `$KUBECONFIG` (a `:`-separated list), then `~/.kube/config`
/// if it exists; otherwise `None`: use the in-cluster service account.
pub(crate) fn kubeconfig_paths(
    override_path: Option<&Path>,
    project_path: Option<&str>,
    env_kubeconfig: Option<&str>,
    home: Option<&Path>,
) -> Option<Vec<PathBuf>> {
    if let Some(p) = override_path {
        return Some(vec![p.to_path_buf()]);
    }
    if let Some(p) = project_path {
        return Some(vec![expand_tilde(p)]);
    }
    if let Some(list) = env_kubeconfig {
        let files: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !files.is_empty() {
            return Some(files);
        }
    }
    let default = home?.join(".kube").join("config");
    default.is_file().then(|| vec![default])
}

/// The namespace: the project's, else the context's, else `default`.
pub(crate) fn resolve_namespace(project_ns: Option<&str>, context_ns: Option<&str>) -> String {
    project_ns
        .or(context_ns)
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string()
}

/// The first line of a kubeconfig error: parse errors can quote file content (tokens).
fn short(e: &KubeconfigError) -> String {
    let s = match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        other => other.to_string(),
    };
    s.lines().next().unwrap_or_default().to_string()
}

fn files_label(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads and merges `files` (missing files in a `$KUBECONFIG` list are skipped, like kubectl).
fn read_kubeconfig(files: &[PathBuf]) -> Result<Kubeconfig, ProviderError> {
    let mut merged: Option<Kubeconfig> = None;
    for f in files {
        if files.len() > 1 && !f.exists() {
            continue;
        }
        let kc = Kubeconfig::read_from(f).map_err(|e| {
            let class = match e {
                KubeconfigError::ReadConfig(..) => ErrorClass::Auth,
                _ => ErrorClass::Invalid,
            };
            ProviderError::new(
                class,
                format!("cannot read kubeconfig `{}`: {}", f.display(), short(&e)),
            )
        })?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m.merge(kc).map_err(|e| {
                ProviderError::new(
                    ErrorClass::Invalid,
                    format!("cannot merge kubeconfig `{}`: {}", f.display(), short(&e)),
                )
            })?,
        });
    }
    merged.ok_or_else(|| {
        ProviderError::new(
            ErrorClass::Auth,
            format!(
                "no kubeconfig found: none of `{}` exists",
                files_label(files)
            ),
        )
    })
}

/// Connects to the project's cluster: kubeconfig (token, client certs, exec plugins,
/// custom CA, `insecure-skip-tls-verify` as kube-rs supports them) or in-cluster.
pub(crate) async fn connect(
    project: &Project,
    opts: &ConnectOptions,
) -> Result<Connection, ProviderError> {
    crate::tls::install_crypto_provider();
    let section = project.kubevirt();
    let project_ns = section
        .and_then(|k| k.namespace.as_ref())
        .map(|n| n.as_str());
    let context = section
        .and_then(|k| k.context.as_ref())
        .map(|c| c.0.clone());
    let env = std::env::var("KUBECONFIG").ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let paths = kubeconfig_paths(
        opts.kubeconfig.as_deref(),
        section
            .and_then(|k| k.kubeconfig.as_ref())
            .map(|p| p.as_str()),
        env.as_deref(),
        home.as_deref(),
    );
    let (config, origin) = match paths {
        Some(files) => from_kubeconfig(files, context, project_ns).await?,
        None => in_cluster(project_ns)?,
    };
    client(config, origin, opts.timeout.unwrap_or(DEFAULT_TIMEOUT))
}

/// A client configuration from kubeconfig `files`, with `context` or the current one.
async fn from_kubeconfig(
    files: Vec<PathBuf>,
    context: Option<String>,
    project_ns: Option<&str>,
) -> Result<(kube::Config, Origin), ProviderError> {
    let kc = read_kubeconfig(&files)?;
    let label = files_label(&files);
    let (ctx_name, ctx_ns) = pick_context(&kc, context, &label)?;
    let options = KubeConfigOptions {
        context: Some(ctx_name.clone()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| {
            ProviderError::new(
                ErrorClass::Auth,
                format!("kubeconfig `{label}` context `{ctx_name}`: {}", short(&e)),
            )
        })?;
    config.default_namespace = resolve_namespace(project_ns, ctx_ns.as_deref());
    let origin = Origin::Kubeconfig {
        files,
        context: ctx_name,
    };
    Ok((config, origin))
}

/// The context to use (`wanted`, else the current one) and its namespace.
///
/// Checked here rather than left to kube-rs so the error can list the known contexts.
fn pick_context(
    kc: &Kubeconfig,
    wanted: Option<String>,
    label: &str,
) -> Result<(String, Option<String>), ProviderError> {
    let Some(ctx_name) = wanted.or_else(|| kc.current_context.clone()) else {
        return Err(ProviderError::new(
            ErrorClass::Auth,
            format!(
                "kubeconfig `{label}` has no current-context: set `kubevirt.context` in the project"
            ),
        ));
    };
    let Some(ctx) = kc.contexts.iter().find(|c| c.name == ctx_name) else {
        let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(ProviderError::new(
            ErrorClass::Auth,
            format!(
                "kubeconfig `{label}` has no context `{ctx_name}` (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let ctx_ns = ctx.context.as_ref().and_then(|c| c.namespace.clone());
    Ok((ctx_name, ctx_ns))
}

/// A client configuration from the pod's service account.
fn in_cluster(project_ns: Option<&str>) -> Result<(kube::Config, Origin), ProviderError> {
    let mut config = kube::Config::incluster().map_err(|e| {
        ProviderError::new(
            ErrorClass::Auth,
            format!(
                "no kubeconfig (`$KUBECONFIG` unset, `~/.kube/config` missing) and not in a cluster: {}",
                first_line(&e)
            ),
        )
    })?;
    let incluster_ns = config.default_namespace.clone();
    config.default_namespace = resolve_namespace(project_ns, Some(&incluster_ns));
    Ok((config, Origin::InCluster))
}

/// The client for `config`, every request bounded by `timeout`.
fn client(
    mut config: kube::Config,
    origin: Origin,
    timeout: Duration,
) -> Result<Connection, ProviderError> {
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    // The engine owns retries (and must see every 429 to back off for minutes, not seconds).
    config.default_retry = false;
    let namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| {
        ProviderError::new(
            ErrorClass::Invalid,
            format!("cannot build a client for {origin}: {}", first_line(&e)),
        )
    })?;
    Ok(Connection {
        client,
        namespace,
        origin,
    })
}

/// The first line of an error's text: later lines can carry file content or server noise.
fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let ovr = Path::new("/sim/kubeconfig");
        assert_eq!(
            kubeconfig_paths(Some(ovr), Some("/p"), Some("/e"), Some(home)),
            Some(vec![ovr.to_path_buf()])
        );
        assert_eq!(
            kubeconfig_paths(None, Some("/p/kc"), Some("/e"), Some(home)),
            Some(vec![PathBuf::from("/p/kc")])
        );
        assert_eq!(
            kubeconfig_paths(None, None, Some("/a:/b"), Some(home)),
            Some(vec![PathBuf::from("/a"), PathBuf::from("/b")])
        );
        // No ~/.kube/config: in-cluster.
        assert_eq!(kubeconfig_paths(None, None, None, Some(home)), None);
        assert_eq!(kubeconfig_paths(None, None, Some(""), Some(home)), None);
        std::fs::create_dir_all(home.join(".kube")).unwrap();
        std::fs::write(home.join(".kube/config"), "").unwrap();
        assert_eq!(
            kubeconfig_paths(None, None, None, Some(home)),
            Some(vec![home.join(".kube/config")])
        );
    }

    #[test]
    fn namespace_precedence() {
        assert_eq!(resolve_namespace(Some("lab"), Some("ctx")), "lab");
        assert_eq!(resolve_namespace(None, Some("ctx")), "ctx");
        assert_eq!(resolve_namespace(None, None), "default");
    }

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
clusters:
  - name: c
    cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
  - name: u
    user: {token: sha256~VERYSECRETTOKEN}
contexts:
  - name: dev
    context: {cluster: c, user: u, namespace: dev-ns}
  - name: prod
    context: {cluster: c, user: u}
"#;

    fn project(extra: &str) -> Project {
        crate::config::testing::project(&format!("name: lab\nprovider: kubevirt\n{extra}"))
    }

    fn opts(path: &Path) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: Some(path.to_path_buf()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn context_and_namespace_come_from_the_kubeconfig_or_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, KUBECONFIG).unwrap();

        let c = connect(&project(""), &opts(&kc)).await.unwrap();
        assert_eq!(c.namespace, "dev-ns");
        assert_eq!(
            c.origin,
            Origin::Kubeconfig {
                files: vec![kc.clone()],
                context: "dev".into()
            }
        );
        assert!(!format!("{c:?}").contains("VERYSECRET"));

        let c = connect(&project("kubevirt: {context: prod}"), &opts(&kc))
            .await
            .unwrap();
        assert_eq!(c.namespace, "default");
        let c = connect(
            &project("kubevirt: {context: prod, namespace: lab-vms}"),
            &opts(&kc),
        )
        .await
        .unwrap();
        assert_eq!(c.namespace, "lab-vms");
    }

    #[tokio::test]
    async fn errors_name_the_file_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kubeconfig");
        std::fs::write(&kc, KUBECONFIG).unwrap();
        let e = connect(&project("kubevirt: {context: staging}"), &opts(&kc))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Auth);
        assert!(
            e.message.contains(&format!("`{}`", kc.display())),
            "{}",
            e.message
        );
        assert!(e.message.contains("`staging`"), "{}", e.message);
        assert!(e.message.contains("dev, prod"), "{}", e.message);

        let missing = dir.path().join("nope");
        let e = connect(&project(""), &opts(&missing)).await.unwrap_err();
        assert!(
            e.message.contains(&format!("`{}`", missing.display())),
            "{}",
            e.message
        );

        let bad = dir.path().join("bad");
        std::fs::write(&bad, "token: sha256~VERYSECRETTOKEN\n  : : [\n").unwrap();
        let e = connect(&project(""), &opts(&bad)).await.unwrap_err();
        assert!(
            e.message.contains(&format!("`{}`", bad.display())),
            "{}",
            e.message
        );
        assert!(!e.message.contains("VERYSECRET"), "{}", e.message);
    }
}
