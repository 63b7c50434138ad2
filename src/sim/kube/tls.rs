//! HTTPS for the Kubernetes simulator: a CA and a serving certificate vauto generates.
//!
//! client-go (kubectl, `oc`, `virtctl`) sends a bearer token only over TLS, so the
//! simulator serves HTTPS with a certificate for `127.0.0.1`, `::1` and `localhost`,
//! signed by a CA whose certificate goes into the kubeconfig's
//! `certificate-authority-data`. The files live in `<state_dir>/sim/kube/` and are
//! reused on the next start, so a kubeconfig written earlier stays valid:
//! `ca.crt`, `server.crt` and `server.key` (mode 0600). The CA's private key is
//! thrown away after signing: nothing else can ever be signed with it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::store::write_atomic;

/// The PEM files of the simulator's CA and serving certificate.
pub(crate) struct Certs {
    /// The CA certificate (PEM), written into the kubeconfig.
    pub ca_pem: String,
    server_pem: String,
    key_pem: String,
}

/// Loads the certificates from `dir`, or generates and writes them when any is missing or unreadable.
pub(crate) fn load_or_create(dir: &Path) -> Result<Certs, String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    if let (Some(ca_pem), Some(server_pem), Some(key_pem)) =
        (read("ca.crt"), read("server.crt"), read("server.key"))
    {
        let certs = Certs {
            ca_pem,
            server_pem,
            key_pem,
        };
        if server_config(&certs).is_ok() {
            return Ok(certs);
        }
    }
    let certs = generate()?;
    write_atomic(&dir.join("server.key"), certs.key_pem.as_bytes(), true)?;
    write_atomic(&dir.join("server.crt"), certs.server_pem.as_bytes(), false)?;
    write_atomic(&dir.join("ca.crt"), certs.ca_pem.as_bytes(), false)?;
    Ok(certs)
}

fn generate() -> Result<Certs, String> {
    use chrono::Datelike;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, date_time_ymd,
    };
    let err = |e: rcgen::Error| format!("cannot generate the simulator's certificate: {e}");
    // From yesterday (a client whose clock is a little behind still accepts it) for ten years.
    let from = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let month = |d: u32| u8::try_from(d).unwrap_or(1);
    let not_before = date_time_ymd(from.year(), month(from.month()), month(from.day()));
    let not_after = date_time_ymd(from.year() + 10, month(from.month()), 1);

    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "vauto simulator CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(err)?;
    let issuer = CertifiedIssuer::self_signed(ca, ca_key).map_err(err)?;

    let mut server = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
    ])
    .map_err(err)?;
    server.distinguished_name = DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "vauto-sim-apiserver");
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = not_before;
    server.not_after = not_after;
    let server_key = KeyPair::generate().map_err(err)?;
    let cert = server.signed_by(&server_key, &issuer).map_err(err)?;
    Ok(Certs {
        ca_pem: issuer.pem(),
        server_pem: cert.pem(),
        key_pem: server_key.serialize_pem(),
    })
}

/// The rustls server configuration serving `certs` (HTTP/1.1 only, as the router speaks it).
pub(crate) fn server_config(certs: &Certs) -> Result<Arc<rustls::ServerConfig>, String> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        format!("the simulator's {what} is unusable ({e}); delete it to have a new one generated")
    };
    let chain = CertificateDer::pem_slice_iter(certs.server_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("server.crt", &e))?;
    let key = PrivateKeyDer::from_pem_slice(certs.key_pem.as_bytes())
        .map_err(|e| bad("server.key", &e))?;
    crate::tls::install_crypto_provider();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad("server.crt", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener that hands axum TLS streams; handshakes run in their own tasks, so a
/// slow or broken client never holds up the others.
pub(crate) struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts TCP connections on `listener` and completes TLS handshakes with `config`.
    pub(crate) fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::debug!("kubernetes simulator: accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    );
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("kubernetes simulator: TLS handshake: {e}"),
                        Err(_) => tracing::debug!("kubernetes simulator: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            rx,
            addr,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task only ends when aborted by drop; never return then.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_generated_once_and_reused_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_eq!(first.server_pem, second.server_pem);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("server.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        server_config(&second).unwrap();
    }

    #[test]
    fn a_damaged_key_is_replaced_by_a_new_pair() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        std::fs::write(dir.path().join("server.key"), "garbage").unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_ne!(first.ca_pem, second.ca_pem);
        server_config(&second).unwrap();
    }
}
