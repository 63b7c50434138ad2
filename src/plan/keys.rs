//! SSH public keys for instances: read from files, or generated once and reused.

use std::path::{Path, PathBuf};

use super::{DesiredInstance, Plan};
use crate::config::{ReadError, Spec, expand_tilde, read_limited};

/// The public keys of a spec plus notes about keys that do not exist yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct SshKeys {
    /// `ssh-ed25519 AAAA... comment` lines.
    pub keys: Vec<String>,
    /// Things `plan` should say (a key that deploy would generate).
    pub notes: Vec<String>,
}

fn looks_like_key(s: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"].iter().any(|p| s.starts_with(p))
}

const KEY_LINE: &str =
    "expected a public key line like `ssh-ed25519 AAAA… me@host`, or the path of a `.pub` file";

/// The start of `k` for a message: key lines are long.
fn shown(k: &str) -> String {
    match k.char_indices().nth(24) {
        Some((i, _)) => format!("{}…", &k[..i]),
        None => k.to_string(),
    }
}

/// Why an `authorized_keys` entry that is not a path is not a key line either, if it is not.
fn not_a_key_line(k: &str) -> Option<String> {
    let fields: Vec<&str> = k.split_whitespace().collect();
    // Every OpenSSH key blob is base64 starting `AAAA` (the length of the type name).
    if fields.first().is_some_and(|f| f.starts_with("AAAA")) {
        return Some(format!(
            "`{}` is not a public key line: the key type (`ssh-ed25519`, `ssh-rsa`, …) before the key is missing; {KEY_LINE}",
            shown(k)
        ));
    }
    if looks_like_key(k)
        && !fields.get(1).is_some_and(|b| {
            b.starts_with("AAAA")
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c))
        })
    {
        return Some(format!(
            "`{}` is not a public key line: the base64 key after `{}` is missing or malformed; {KEY_LINE}",
            shown(k),
            fields.first().copied().unwrap_or_default()
        ));
    }
    None
}

impl SshKeys {
    /// Reads `ssh.authorized_keys` and the generated key; an error is (field, message).
    pub(crate) fn load(spec: &Spec) -> Result<SshKeys, (String, String)> {
        let mut out = SshKeys::default();
        for (i, k) in spec.ssh.authorized_keys.iter().enumerate() {
            let k = k.trim();
            if let Some(message) = not_a_key_line(k) {
                return Err((format!("ssh.authorized_keys[{i}]"), message));
            }
            if looks_like_key(k) {
                out.keys.push(k.to_string());
                continue;
            }
            let path = resolve(spec, k);
            let text = read_limited(&path).map_err(|e| {
                let message = match e {
                    // A key line cut or pasted wrong, not a file name.
                    ReadError::Io(e)
                        if e.kind() == std::io::ErrorKind::NotFound
                            && k.contains(char::is_whitespace) =>
                    {
                        format!(
                            "`{}` is neither a public key line nor an existing file; {KEY_LINE}",
                            shown(k)
                        )
                    }
                    ReadError::Io(e) => {
                        format!("cannot read public key file `{}`: {e}", path.display())
                    }
                    too_big => format!("public key file `{}`: {too_big}", path.display()),
                };
                (format!("ssh.authorized_keys[{i}]"), message)
            })?;
            let before = out.keys.len();
            for line in text.lines().map(str::trim) {
                if looks_like_key(line) {
                    out.keys.push(line.to_string());
                }
            }
            if out.keys.len() == before {
                return Err((
                    format!("ssh.authorized_keys[{i}]"),
                    format!(
                        "`{}` holds no public key (expected lines like `ssh-ed25519 AAAA…`)",
                        path.display()
                    ),
                ));
            }
        }
        if let Some(private) = generated_key_path(spec) {
            let public = pub_path(&private);
            match std::fs::read_to_string(&public) {
                Ok(text) => out.keys.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| looks_like_key(l))
                        .map(String::from),
                ),
                Err(_) => {
                    out.keys
                        .push(format!("<generated at deploy: {}>", public.display()));
                    out.notes.push(format!(
                        "ssh key pair {} does not exist yet: deploy creates it (ed25519, 0600/0644)",
                        private.display()
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The private key path of `ssh.generate`, with `~` expanded.
pub(crate) fn generated_key_path(spec: &Spec) -> Option<PathBuf> {
    spec.ssh.generate.as_ref().map(|g| resolve(spec, g))
}

/// `~` expanded; a relative path is taken relative to the config directory
/// (the folder holding `specs/`), so a bundle works from any current directory.
fn resolve(spec: &Spec, p: &str) -> PathBuf {
    let path = expand_tilde(p);
    if path.is_relative()
        && let Some(root) = spec.file.parent().and_then(Path::parent)
    {
        return root.join(path);
    }
    path
}

fn pub_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Creates an ed25519 key pair at `private` (0600) and `private.pub` (0644) unless it exists.
/// Returns whether it created one.
pub(crate) fn ensure_generated(private: &Path, comment: &str) -> Result<bool, String> {
    let public = pub_path(private);
    if private.exists() && public.exists() {
        return Ok(false);
    }
    if private.exists() {
        // Recreate the public half from the private key rather than replacing a key in use.
        let key = ssh_key::PrivateKey::read_openssh_file(private)
            .map_err(|e| format!("cannot read private key `{}`: {e}", private.display()))?;
        let line = key
            .public_key()
            .to_openssh()
            .map_err(|e| format!("cannot encode public key: {e}"))?;
        write_file(&public, format!("{line}\n").as_bytes(), 0o644)?;
        return Ok(true);
    }
    if let Some(dir) = private.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Only the owner may look into a folder vauto makes for private keys.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    let mut key =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .map_err(|e| format!("cannot generate an ed25519 key: {e}"))?;
    key.set_comment(comment);
    let pem = key
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| format!("cannot encode private key: {e}"))?;
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|e| format!("cannot encode public key: {e}"))?;
    write_file(private, pem.as_bytes(), 0o600)?;
    write_file(&public, format!("{line}\n").as_bytes(), 0o644)?;
    Ok(true)
}

/// Atomic write (temp file + rename) with `mode`.
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    crate::files::write_atomic(path, data, Some(mode))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// The private key that logs in to `inst`: the one vauto generated (`ssh.generate`), or the
/// private half beside a `.pub` file given in `ssh.authorized_keys`; none when no key was
/// authorised (nobody could log in with it).
pub(crate) fn private_key(plan: &Plan, inst: &DesiredInstance) -> Option<std::path::PathBuf> {
    if inst.ssh_authorized_keys.is_empty() {
        return None;
    }
    crate::plan::generated_key_path(&plan.spec).or_else(|| {
        plan.spec.ssh.authorized_keys.iter().find_map(|k| {
            let private = std::path::Path::new(k.strip_suffix(".pub")?);
            let root = plan.spec.file.parent().and_then(std::path::Path::parent);
            let private = match root {
                Some(r) if private.is_relative() => r.join(private),
                _ => private.to_path_buf(),
            };
            private.is_file().then_some(private)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_modes_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("sub/lab-web");
        assert!(ensure_generated(&key, "vauto lab/web").unwrap());
        let public = std::fs::read_to_string(pub_path(&key)).unwrap();
        assert!(public.starts_with("ssh-ed25519 "), "{public}");
        assert!(public.trim_end().ends_with("vauto lab/web"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(m(&key), 0o600);
            assert_eq!(m(&pub_path(&key)), 0o644);
            assert_eq!(m(&dir.path().join("sub")), 0o700);
        }
        assert!(!ensure_generated(&key, "x").unwrap());
        assert_eq!(std::fs::read_to_string(pub_path(&key)).unwrap(), public);
        // A lost public half is recreated from the private key, not replaced.
        std::fs::remove_file(pub_path(&key)).unwrap();
        assert!(ensure_generated(&key, "x").unwrap());
        assert_eq!(std::fs::read_to_string(pub_path(&key)).unwrap(), public);
    }
}
