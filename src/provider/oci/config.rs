//! OCI credentials: `~/.oci/config` profiles, API keys, and the resolved connection settings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};

use super::auth::{CredentialSource, Credentials, ResourcePrincipal, SecurityTokenFile};
use super::instance_principal::{Federated, InstancePrincipal};
use super::signer::Signer;
use crate::config::{OciAuth, OciProject, Project, expand_tilde};
use crate::model::{ErrorClass, ProviderError};
use crate::provider::ConnectOptions;
use std::sync::Arc;

/// The profile used when the project names none.
pub(crate) const DEFAULT_PROFILE: &str = "DEFAULT";
/// The config file used when neither the project nor the command line names one.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "~/.oci/config";

/// One profile of an OCI config file, after `[DEFAULT]` inheritance.
#[derive(Clone)]
pub(crate) struct OciProfile {
    /// The file it came from.
    pub file: PathBuf,
    /// The profile name.
    pub name: String,
    /// User OCID.
    pub user: String,
    /// API key fingerprint (`aa:bb:...`).
    pub fingerprint: String,
    /// Tenancy OCID.
    pub tenancy: String,
    /// Region identifier (`us-ashburn-1`); optional in the file, the project may set it.
    pub region: Option<String>,
    /// Private key path, with `~` expanded and made absolute against the config file's folder.
    pub key_file: PathBuf,
    /// Pass phrase of an encrypted key.
    pass_phrase: Option<String>,
    /// `security_token_file` (from `oci session authenticate`), resolved like `key_file`.
    pub security_token_file: Option<PathBuf>,
}

impl OciProfile {
    /// The pass phrase of an encrypted key, for the one place that decrypts it.
    pub(crate) fn pass_phrase(&self) -> Option<&str> {
        self.pass_phrase.as_deref()
    }
}

impl fmt::Debug for OciProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciProfile")
            .field("file", &self.file)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("fingerprint", &self.fingerprint)
            .field("tenancy", &self.tenancy)
            .field("region", &self.region)
            .field("key_file", &self.key_file)
            .field("security_token_file", &self.security_token_file)
            .field(
                "pass_phrase",
                &self.pass_phrase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn auth(msg: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Auth, msg)
}

/// Sections of an INI text: name → (lower-case key → value), in the way Python's
/// `configparser` reads them (the OCI SDKs and CLI use it).
fn parse_ini(text: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, (usize, String)> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        // configparser continues a value on indented lines.
        if line.starts_with([' ', '\t'])
            && let (Some(sec), Some(key)) = (&current, &last_key)
            && let Some(v) = sections.get_mut(sec).and_then(|s| s.get_mut(key))
        {
            v.push('\n');
            v.push_str(trimmed);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err((lineno, "section header without a closing `]`".to_string()));
            };
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            last_key = None;
            continue;
        }
        let Some(sec) = &current else {
            return Err((lineno, "a key before any `[PROFILE]` section".to_string()));
        };
        let split = match (trimmed.find('='), trimmed.find(':')) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                return Err((lineno, "expected `key=value`".to_string()));
            }
        };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_string();
        sections
            .entry(sec.clone())
            .or_default()
            .insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(sections)
}

/// Reads profile `profile` from the OCI config file at `path`.
///
/// Values of `[DEFAULT]` apply to every profile unless the profile sets them, as in the
/// OCI SDKs. `key_file` gets `~` expanded and, when relative, is taken relative to the
/// folder of the config file.
#[cfg(test)]
pub(crate) fn load_profile(path: &Path, profile: &str) -> Result<OciProfile, ProviderError> {
    load_profile_for(path, profile, OciAuth::ApiKey)
}

/// [`load_profile`] for `auth`: `security_token` needs `security_token_file` and no `user`
/// (the profiles `oci session authenticate` writes have none).
pub(crate) fn load_profile_for(
    path: &Path,
    profile: &str,
    auth_mode: OciAuth,
) -> Result<OciProfile, ProviderError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        auth(format!(
            "cannot read the OCI config file `{}`: {e}",
            path.display()
        ))
    })?;
    parse_profile_for(&text, path, profile, auth_mode)
}

/// Parses profile `profile` out of config `text` that was read from `path`.
#[cfg(test)]
pub(crate) fn parse_profile(
    text: &str,
    path: &Path,
    profile: &str,
) -> Result<OciProfile, ProviderError> {
    parse_profile_for(text, path, profile, OciAuth::ApiKey)
}

/// [`parse_profile`] for `auth_mode`.
pub(crate) fn parse_profile_for(
    text: &str,
    path: &Path,
    profile: &str,
    auth_mode: OciAuth,
) -> Result<OciProfile, ProviderError> {
    let sections = parse_ini(text).map_err(|(line, msg)| {
        auth(format!(
            "OCI config file `{}` line {line}: {msg}",
            path.display()
        ))
    })?;
    let defaults = sections.get(DEFAULT_PROFILE).cloned().unwrap_or_default();
    let Some(own) = sections.get(profile) else {
        let known: Vec<&str> = sections.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(auth(format!(
            "profile `{profile}` not found in the OCI config file `{}` (profiles: {known})",
            path.display()
        )));
    };
    let mut merged = defaults;
    merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    let get = |key: &str| merged.get(key).filter(|v| !v.is_empty()).cloned();
    let need = |key: &str| {
        get(key).ok_or_else(|| {
            auth(format!(
                "profile `{profile}` in the OCI config file `{}` has no `{key}`",
                path.display()
            ))
        })
    };
    let token = auth_mode == OciAuth::SecurityToken;
    let (user, fingerprint) = if token {
        (
            get("user").unwrap_or_default(),
            get("fingerprint").unwrap_or_default(),
        )
    } else {
        (need("user")?, need("fingerprint")?)
    };
    let tenancy = need("tenancy")?;
    let key_file = need("key_file")?;
    let key_file = resolve_relative(&expand_tilde(&key_file), path);
    let security_token_file = if token {
        let f = need("security_token_file").map_err(|e| {
            auth(format!(
                "{}: oci.auth is security_token, which needs a profile made by `oci session authenticate`",
                e.message
            ))
        })?;
        Some(resolve_relative(&expand_tilde(&f), path))
    } else {
        None
    };
    Ok(OciProfile {
        file: path.to_path_buf(),
        name: profile.to_string(),
        user,
        fingerprint,
        tenancy,
        region: get("region"),
        key_file,
        pass_phrase: get("pass_phrase"),
        security_token_file,
    })
}

fn resolve_relative(p: &Path, config_file: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match config_file.parent() {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

/// An RSA API signing key; never printed.
#[derive(Clone)]
pub(crate) struct ApiKey {
    key: RsaPrivateKey,
    fingerprint: String,
}

impl ApiKey {
    /// The private key, for the signer.
    pub(crate) fn private_key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// MD5 fingerprint of the public key (DER SubjectPublicKeyInfo), lowercase colon-separated hex,
    /// as the OCI Console shows it.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Wraps an already parsed key.
    pub(crate) fn from_key(key: RsaPrivateKey) -> Result<ApiKey, ProviderError> {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| auth("cannot encode the public half of the API key"))?;
        let digest = Md5::digest(der.as_bytes());
        let fingerprint = digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(ApiKey { key, fingerprint })
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("fingerprint", &self.fingerprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The first PEM block of `text` (anything after its END line, such as the Console's
/// `OCI_API_KEY` label, is dropped) and its label.
fn first_pem_block(text: &str) -> Option<(String, String)> {
    let text = text.replace("\r\n", "\n");
    let mut out = String::new();
    let mut label: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        match &label {
            None => {
                if let Some(l) = line
                    .strip_prefix("-----BEGIN ")
                    .and_then(|r| r.strip_suffix("-----"))
                {
                    label = Some(l.to_string());
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Some(l) => {
                out.push_str(line);
                out.push('\n');
                if line == format!("-----END {l}-----") {
                    return Some((l.clone(), out));
                }
            }
        }
    }
    None
}

/// Parses a PEM private key: PKCS#8, PKCS#1, or encrypted PKCS#8 with `pass_phrase`.
///
/// `what` names the key in errors (usually the file path); key material and the pass
/// phrase never appear in errors.
pub(crate) fn parse_private_key(
    pem: &str,
    pass_phrase: Option<&str>,
    what: &str,
) -> Result<ApiKey, ProviderError> {
    let Some((label, block)) = first_pem_block(pem) else {
        return Err(auth(format!(
            "`{what}` is not a PEM private key: no `-----BEGIN ...-----` block"
        )));
    };
    let key = match label.as_str() {
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(&block)
            .map_err(|_| auth(format!("`{what}` is not a valid RSA PKCS#8 private key")))?,
        "RSA PRIVATE KEY" => {
            if block.contains("Proc-Type: 4,ENCRYPTED") {
                return Err(auth(format!(
                    "`{what}` is a legacy encrypted PKCS#1 key, which is not supported: convert it with `openssl pkcs8 -topk8 -in KEY -out KEY.pem`"
                )));
            }
            RsaPrivateKey::from_pkcs1_pem(&block)
                .map_err(|_| auth(format!("`{what}` is not a valid RSA PKCS#1 private key")))?
        }
        "ENCRYPTED PRIVATE KEY" => {
            let Some(pass) = pass_phrase else {
                return Err(auth(format!(
                    "`{what}` is encrypted but the profile has no `pass_phrase`"
                )));
            };
            RsaPrivateKey::from_pkcs8_encrypted_pem(&block, pass).map_err(|_| {
                auth(format!(
                    "cannot decrypt `{what}`: wrong `pass_phrase` or not an RSA key"
                ))
            })?
        }
        other => {
            return Err(auth(format!(
                "`{what}` holds a `{other}` PEM block, expected an RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`)"
            )));
        }
    };
    ApiKey::from_key(key)
}

/// Reads and parses the private key file of `profile`, and checks it matches the profile's
/// fingerprint (the server would otherwise answer 401 with no hint why).
pub(crate) fn load_api_key(profile: &OciProfile) -> Result<ApiKey, ProviderError> {
    let path = &profile.key_file;
    let what = path.display().to_string();
    let pem = std::fs::read_to_string(path).map_err(|e| {
        auth(format!(
            "cannot read the OCI API key `{what}` (key_file of profile `{}`): {e}",
            profile.name
        ))
    })?;
    let key = parse_private_key(&pem, profile.pass_phrase(), &what)?;
    if !key
        .fingerprint()
        .eq_ignore_ascii_case(profile.fingerprint.trim())
    {
        return Err(auth(format!(
            "the API key `{what}` has fingerprint {} but profile `{}` says `fingerprint={}`: the key file and the fingerprint do not belong together",
            key.fingerprint(),
            profile.name,
            profile.fingerprint
        )));
    }
    Ok(key)
}

/// Everything needed to talk to OCI for one project, resolved from the project's `oci:`
/// section, the command line and the credentials `oci.auth` names.
#[derive(Clone)]
pub(crate) struct OciConnection {
    /// How requests are authenticated.
    pub auth: OciAuth,
    /// Where the credentials came from, for messages: ``profile `P` in `F` `` or the variables.
    pub origin: String,
    /// Tenancy OCID.
    pub tenancy: String,
    /// Region identifier.
    pub region: String,
    /// Compartment OCID, from the project (or a resource principal's `res_compartment`);
    /// `None` means the tenancy (root compartment).
    pub compartment: Option<String>,
    /// Subnet display name or OCID.
    pub subnet: String,
    /// Base URL of the Compute (iaas) API, without a trailing slash.
    pub iaas_endpoint: String,
    /// Base URL of the Identity API, without a trailing slash.
    pub identity_endpoint: String,
    /// Base URL of the Database API (Autonomous Databases), without a trailing slash.
    pub database_endpoint: String,
    /// Base URL of the Container Instances API, without a trailing slash.
    pub containers_endpoint: String,
    /// Signs every request (holds the key; never printed).
    pub signer: Signer,
}

impl OciConnection {
    /// The compartment to work in: the project's, else the tenancy.
    pub(crate) fn compartment_id(&self) -> &str {
        self.compartment.as_deref().unwrap_or(&self.tenancy)
    }
}

impl fmt::Debug for OciConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciConnection")
            .field("auth", &self.auth)
            .field("origin", &self.origin)
            .field("tenancy", &self.tenancy)
            .field("region", &self.region)
            .field("compartment", &self.compartment)
            .field("subnet", &self.subnet)
            .field("iaas_endpoint", &self.iaas_endpoint)
            .field("identity_endpoint", &self.identity_endpoint)
            .field("database_endpoint", &self.database_endpoint)
            .field("containers_endpoint", &self.containers_endpoint)
            .field("signer", &self.signer)
            .finish()
    }
}

/// `https://iaas.{region}.oraclecloud.com`.
pub(crate) fn iaas_endpoint(region: &str) -> String {
    format!("https://iaas.{region}.oraclecloud.com")
}

/// `https://identity.{region}.oci.oraclecloud.com` (the host the current SDKs use).
pub(crate) fn identity_endpoint(region: &str) -> String {
    format!("https://identity.{region}.oci.oraclecloud.com")
}

/// `https://database.{region}.oraclecloud.com` (the Python SDK's `DatabaseClient` template).
pub(crate) fn database_endpoint(region: &str) -> String {
    format!("https://database.{region}.oraclecloud.com")
}

/// `https://compute-containers.{region}.oci.oraclecloud.com` (the Python SDK's
/// `ContainerInstanceClient` template).
pub(crate) fn containers_endpoint(region: &str) -> String {
    format!("https://compute-containers.{region}.oci.oraclecloud.com")
}

/// Resolves the connection of an OCI project: `opts` overrides win over the project's
/// `oci:` section, which wins over the config file profile.
#[cfg(test)]
pub(crate) fn resolve(
    project: &Project,
    opts: &ConnectOptions,
) -> Result<OciConnection, ProviderError> {
    resolve_with(project, opts, None)
}

/// The `oci.endpoint` (or command-line) base URL, without a trailing slash.
pub(crate) fn endpoint_override(project: &Project, opts: &ConnectOptions) -> Option<String> {
    let default = OciProject::default();
    let oci = project.oci().unwrap_or(&default);
    opts.oci_endpoint
        .clone()
        .or_else(|| oci.endpoint.as_ref().map(|e| e.0.clone()))
        .map(|e| e.trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
}

/// Connects an instance principal (metadata service, then the auth service): async, so
/// [`resolve_with`] takes its result.
pub(crate) async fn instance_principal(
    project: &Project,
    opts: &ConnectOptions,
) -> Result<(Federated, InstancePrincipal), ProviderError> {
    let default = OciProject::default();
    let oci = project.oci().unwrap_or(&default);
    let region = oci
        .region
        .as_ref()
        .map(|r| r.0.clone())
        .filter(|r| !r.is_empty());
    let ip = InstancePrincipal::new(
        &|k| {
            if k == super::instance_principal::METADATA_BASE_ENV && opts.oci_metadata_base.is_some()
            {
                return opts.oci_metadata_base.clone();
            }
            std::env::var(k).ok()
        },
        endpoint_override(project, opts).as_deref(),
        opts.timeout.unwrap_or(std::time::Duration::from_secs(30)),
    )?;
    let fed = ip.federate(region.as_deref()).await?;
    Ok((fed, ip))
}

/// [`resolve`] with an instance principal already federated (required for that mode).
pub(crate) fn resolve_with(
    project: &Project,
    opts: &ConnectOptions,
    federated: Option<(Federated, InstancePrincipal)>,
) -> Result<OciConnection, ProviderError> {
    let default = OciProject::default();
    let oci = project.oci().unwrap_or(&default);
    let auth_mode = oci.auth.unwrap_or_default();
    let project_region = oci
        .region
        .as_ref()
        .map(|r| r.0.clone())
        .filter(|r| !r.is_empty());
    let creds = match auth_mode {
        OciAuth::ApiKey | OciAuth::SecurityToken => {
            let config_file = match (&opts.oci_config_file, &oci.config_file) {
                (Some(p), _) => p.clone(),
                (None, Some(p)) => expand_tilde(p),
                (None, None) => expand_tilde(DEFAULT_CONFIG_FILE),
            };
            let profile_name = oci.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
            let profile = load_profile_for(&config_file, profile_name, auth_mode)?;
            let signer = match &profile.security_token_file {
                Some(token_file) => {
                    let src = SecurityTokenFile::new(
                        token_file.clone(),
                        profile.key_file.clone(),
                        profile.pass_phrase.clone(),
                        profile_name,
                    );
                    let creds = src.load()?;
                    Signer::with_source(creds, Arc::new(src))
                }
                None => {
                    let key = load_api_key(&profile)?;
                    Signer::new(
                        format!(
                            "{}/{}/{}",
                            profile.tenancy, profile.user, profile.fingerprint
                        ),
                        key,
                    )
                }
            };
            Resolved {
                origin: format!("profile `{profile_name}` in `{}`", config_file.display()),
                tenancy: profile.tenancy.clone(),
                compartment: None,
                region: profile.region.clone(),
                region_hint: format!(
                    "`oci.region` in project `{}` or `region` in profile `{profile_name}` of `{}`",
                    project.name,
                    config_file.display()
                ),
                signer,
            }
        }
        OciAuth::ResourcePrincipal => {
            let rp =
                ResourcePrincipal::from_env(&|k| std::env::var(k).ok(), project_region.is_some())?;
            let creds: Credentials = rp.load()?;
            let claim = |c: &str| {
                creds
                    .token
                    .as_ref()
                    .and_then(|t| t.claim(c))
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            Resolved {
                origin: "the OCI_RESOURCE_PRINCIPAL_* variables".into(),
                tenancy: claim("res_tenant").unwrap_or_default(),
                compartment: claim("res_compartment"),
                region: rp.region.clone(),
                region_hint: format!(
                    "`oci.region` in project `{}` or OCI_RESOURCE_PRINCIPAL_REGION",
                    project.name
                ),
                signer: Signer::with_source(creds, Arc::new(rp)),
            }
        }
        OciAuth::InstancePrincipal => {
            let Some((fed, ip)) = federated else {
                return Err(auth(
                    "oci.auth is instance_principal: the metadata service was not asked",
                ));
            };
            Resolved {
                origin: "the instance metadata service".into(),
                tenancy: fed.tenancy,
                compartment: None,
                region: Some(fed.region),
                region_hint: String::new(),
                signer: Signer::with_federation(fed.creds, ip, project_region.clone()),
            }
        }
    };
    let region = match (project_region, &creds.region) {
        (Some(r), _) => r,
        (None, Some(r)) => r.clone(),
        (None, None) => {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!("no OCI region: set {}", creds.region_hint),
            ));
        }
    };
    // Empty when the project launches nothing (its specs only `select:`); a launch checks it
    // first (`Project::need_subnet`).
    let subnet = oci.subnet.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    let endpoint = opts
        .oci_endpoint
        .clone()
        .or_else(|| oci.endpoint.as_ref().map(|e| e.0.clone()))
        .map(|e| e.trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty());
    let (iaas, identity, database, containers) = match endpoint {
        Some(e) => (e.clone(), e.clone(), e.clone(), e),
        None => (
            iaas_endpoint(&region),
            identity_endpoint(&region),
            database_endpoint(&region),
            containers_endpoint(&region),
        ),
    };
    Ok(OciConnection {
        auth: auth_mode,
        origin: creds.origin,
        tenancy: creds.tenancy,
        region,
        compartment: oci
            .compartment
            .as_ref()
            .map(|c| c.0.clone())
            .filter(|c| !c.is_empty())
            .or(creds.compartment),
        subnet,
        iaas_endpoint: iaas,
        identity_endpoint: identity,
        database_endpoint: database,
        containers_endpoint: containers,
        signer: creds.signer,
    })
}

/// What the credentials of one `oci.auth` mode settle.
struct Resolved {
    origin: String,
    tenancy: String,
    compartment: Option<String>,
    region: Option<String>,
    region_hint: String,
    signer: Signer,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing");
    const FINGERPRINT: &str = "a4:3f:7f:d6:f3:ce:8a:ce:4a:a5:c4:66:a5:3e:e5:47";

    fn vectors() -> PathBuf {
        PathBuf::from(VECTORS)
    }

    fn read(name: &str) -> String {
        std::fs::read_to_string(vectors().join(name)).unwrap()
    }

    #[test]
    fn vector_config_loads_with_key_relative_to_the_config_file() {
        let p = load_profile(&vectors().join("config"), "DEFAULT").unwrap();
        assert_eq!(p.user, "ocid1.user.oc1..aaaatest");
        assert_eq!(p.tenancy, "ocid1.tenancy.oc1..aaaatest");
        assert_eq!(p.fingerprint, FINGERPRINT);
        assert_eq!(p.region.as_deref(), Some("us-ashburn-1"));
        assert_eq!(p.key_file, vectors().join("TEST-ONLY-oci-api-key.pem"));
        let key = load_api_key(&p).unwrap();
        assert_eq!(key.fingerprint(), FINGERPRINT);
    }

    #[test]
    fn all_three_pem_forms_give_the_same_key() {
        let a = parse_private_key(&read("TEST-ONLY-oci-api-key.pem"), None, "a").unwrap();
        let b = parse_private_key(&read("TEST-ONLY-oci-api-key.pkcs1.pem"), None, "b").unwrap();
        let c = parse_private_key(&read("TEST-ONLY-oci-api-key.labelled.pem"), None, "c").unwrap();
        assert_eq!(a.private_key(), b.private_key());
        assert_eq!(a.private_key(), c.private_key());
        assert_eq!(a.fingerprint(), FINGERPRINT);
    }

    #[test]
    fn encrypted_pkcs8_needs_the_right_pass_phrase() {
        use rsa::pkcs8::{EncodePrivateKey, pkcs5};
        let key = parse_private_key(&read("TEST-ONLY-oci-api-key.pem"), None, "k").unwrap();
        let der = key.private_key().to_pkcs8_der().unwrap();
        let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
        let params =
            pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7u8; 16])
                .unwrap();
        let enc = info.encrypt_with_params(params, "s3cret").unwrap();
        let pem = enc
            .to_pem("ENCRYPTED PRIVATE KEY", rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let pem = format!("{}OCI_API_KEY\n", pem.as_str());

        let ok = parse_private_key(&pem, Some("s3cret"), "enc.pem").unwrap();
        assert_eq!(ok.private_key(), key.private_key());

        let wrong = parse_private_key(&pem, Some("nope"), "enc.pem").unwrap_err();
        assert_eq!(wrong.class, ErrorClass::Auth);
        assert!(
            wrong.message.contains("wrong `pass_phrase`"),
            "{}",
            wrong.message
        );
        assert!(!wrong.message.contains("nope"));

        let missing = parse_private_key(&pem, None, "enc.pem").unwrap_err();
        assert!(
            missing.message.contains("no `pass_phrase`"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn garbage_and_non_rsa_keys_are_clear_errors() {
        let e = parse_private_key("hello", None, "/k.pem").unwrap_err();
        assert!(e.message.contains("not a PEM private key"), "{}", e.message);
        let e = parse_private_key(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None,
            "/k.pem",
        )
        .unwrap_err();
        assert!(e.message.contains("`CERTIFICATE`"), "{}", e.message);
        let e = parse_private_key(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None,
            "/k.pem",
        )
        .unwrap_err();
        assert!(
            e.message.contains("not a valid RSA PKCS#8"),
            "{}",
            e.message
        );
    }

    #[test]
    fn default_section_is_inherited_and_overridden() {
        let text = "# comment\n[DEFAULT]\nuser = u0\nfingerprint=f0\ntenancy=t0\nregion=us-ashburn-1\nkey_file=~/.oci/k.pem\n\n[PROD]\nUser=u1\nregion: eu-frankfurt-1\npass_phrase=pw\n";
        let p = parse_profile(text, Path::new("/etc/oci/config"), "PROD").unwrap();
        assert_eq!(p.user, "u1");
        assert_eq!(p.tenancy, "t0");
        assert_eq!(p.region.as_deref(), Some("eu-frankfurt-1"));
        assert_eq!(p.pass_phrase(), Some("pw"));
        assert!(!format!("{p:?}").contains("pw\""), "{p:?}");
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(p.key_file, PathBuf::from(home).join(".oci/k.pem"));
        }
        let d = parse_profile(text, Path::new("/etc/oci/config"), "DEFAULT").unwrap();
        assert_eq!(d.user, "u0");
        assert_eq!(d.pass_phrase(), None);
    }

    #[test]
    fn missing_profile_field_and_file_are_named() {
        let text = "[DEFAULT]\nuser=u\ntenancy=t\nkey_file=k.pem\n";
        let e = parse_profile(text, Path::new("/x/config"), "DEFAULT").unwrap_err();
        assert_eq!(
            e.message,
            "profile `DEFAULT` in the OCI config file `/x/config` has no `fingerprint`"
        );
        let e = parse_profile(text, Path::new("/x/config"), "PROD").unwrap_err();
        assert!(
            e.message.contains("profile `PROD` not found"),
            "{}",
            e.message
        );
        assert!(e.message.contains("DEFAULT"), "{}", e.message);
        let e = load_profile(Path::new("/nonexistent/oci/config"), "DEFAULT").unwrap_err();
        assert!(
            e.message
                .starts_with("cannot read the OCI config file `/nonexistent/oci/config`")
        );
        let p = parse_profile(
            "[DEFAULT]\nuser=u\nfingerprint=f\ntenancy=t\nkey_file=k.pem\n",
            Path::new("/x/config"),
            "DEFAULT",
        )
        .unwrap();
        assert_eq!(p.key_file, PathBuf::from("/x/k.pem"));
    }

    #[test]
    fn wrong_fingerprint_is_caught_before_any_request() {
        let mut p = load_profile(&vectors().join("config"), "DEFAULT").unwrap();
        p.fingerprint = "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff".into();
        let e = load_api_key(&p).unwrap_err();
        assert!(
            e.message.contains("do not belong together"),
            "{}",
            e.message
        );
    }

    fn project(yaml: &str) -> Project {
        crate::config::testing::project(yaml)
    }

    #[test]
    fn resolve_uses_profile_region_and_default_endpoints() {
        let p = project(&format!(
            "provider: oci\noci:\n  config_file: {VECTORS}/config\n  subnet: public subnet-main-vcn\n"
        ));
        let c = resolve(&p, &ConnectOptions::default()).unwrap();
        assert_eq!(c.region, "us-ashburn-1");
        assert_eq!(c.iaas_endpoint, "https://iaas.us-ashburn-1.oraclecloud.com");
        assert_eq!(
            c.identity_endpoint,
            "https://identity.us-ashburn-1.oci.oraclecloud.com"
        );
        assert_eq!(c.compartment_id(), "ocid1.tenancy.oc1..aaaatest");
        assert_eq!(c.subnet, "public subnet-main-vcn");
        assert_eq!(
            c.signer.key_id(),
            format!("ocid1.tenancy.oc1..aaaatest/ocid1.user.oc1..aaaatest/{FINGERPRINT}")
        );
        let dbg = format!("{c:?}");
        assert!(dbg.contains("<redacted>") && !dbg.contains("BEGIN"));
    }

    #[test]
    fn resolve_overrides_region_compartment_and_endpoint() {
        let p = project(
            "provider: oci\noci:\n  config_file: /nope\n  region: ap-chuncheon-1\n  compartment: ocid1.compartment.oc1..c\n  subnet: ocid1.subnet.oc1..s\n  endpoint: http://127.0.0.1:9/\n",
        );
        let opts = ConnectOptions {
            oci_config_file: Some(vectors().join("config")),
            ..ConnectOptions::default()
        };
        let c = resolve(&p, &opts).unwrap();
        assert_eq!(c.region, "ap-chuncheon-1");
        assert_eq!(c.compartment_id(), "ocid1.compartment.oc1..c");
        assert_eq!(c.iaas_endpoint, "http://127.0.0.1:9");
        assert_eq!(c.identity_endpoint, "http://127.0.0.1:9");
        let opts = ConnectOptions {
            oci_config_file: Some(vectors().join("config")),
            oci_endpoint: Some("http://127.0.0.1:7".into()),
            ..ConnectOptions::default()
        };
        assert_eq!(
            resolve(&p, &opts).unwrap().iaas_endpoint,
            "http://127.0.0.1:7"
        );
    }
}
