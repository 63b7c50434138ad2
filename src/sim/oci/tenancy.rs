//! The simulated tenancy on disk: an API signing key pair and an `~/.oci/config`-style file.

use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};

use super::catalog::{REGION, TENANCY_OCID, USER_OCID};

/// File name of the generated private key inside `<state_dir>/sim/oci/`.
pub(crate) const KEY_FILE: &str = "oci_api_key.pem";
/// File name of the matching public key.
pub(crate) const PUBLIC_KEY_FILE: &str = "oci_api_key_public.pem";
/// File name of the generated OCI config.
pub(crate) const CONFIG_FILE: &str = "config";

/// The identity the sim accepts; holds only public material.
pub(crate) struct Tenancy {
    pub key_id: String,
    pub public_key: RsaPublicKey,
    pub config_file: PathBuf,
}

/// `MD5(DER SubjectPublicKeyInfo)` as lowercase colon-separated hex, as OCI shows it.
pub(crate) fn fingerprint(key: &RsaPublicKey) -> Result<String, String> {
    let der = key
        .to_public_key_der()
        .map_err(|e| format!("cannot encode the sim public key: {e}"))?;
    let digest = Md5::digest(der.as_bytes());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename), mode 0600.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::files::write_atomic(path, bytes, Some(0o600))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn load_key(path: &Path) -> Result<RsaPrivateKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the sim key `{}`: {e}", path.display()))?;
    // Neither error is shown: parser errors could echo key bytes.
    RsaPrivateKey::from_pkcs8_pem(pem.trim())
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem.trim()))
        .map_err(|_| format!("the sim key `{}` is not an RSA PEM key", path.display()))
}

/// Ensures `<dir>` holds a key pair and a config file; generates the key only once.
pub(crate) fn ensure(dir: &Path) -> Result<Tenancy, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve `{}`: {e}", dir.display()))?;
    let key_path = dir.join(KEY_FILE);
    let private = if key_path.exists() {
        load_key(&key_path)?
    } else {
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, 2048)
            .map_err(|e| format!("cannot generate the sim key: {e}"))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| "cannot encode the sim key".to_string())?;
        write_atomic(&key_path, pem.as_bytes())?;
        key
    };
    let public = RsaPublicKey::from(&private);
    drop(private);
    let public_pem = public
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the sim public key: {e}"))?;
    write_if_changed(&dir.join(PUBLIC_KEY_FILE), public_pem.as_bytes())?;
    let fp = fingerprint(&public)?;
    let config = format!(
        "[DEFAULT]\nuser={USER_OCID}\nfingerprint={fp}\ntenancy={TENANCY_OCID}\nregion={REGION}\nkey_file={}\n",
        key_path.display()
    );
    let config_file = dir.join(CONFIG_FILE);
    write_if_changed(&config_file, config.as_bytes())?;
    Ok(Tenancy {
        key_id: format!("{TENANCY_OCID}/{USER_OCID}/{fp}"),
        public_key: public,
        config_file,
    })
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write_atomic(path, bytes)
}
