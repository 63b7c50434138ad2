//! The process-wide rustls crypto provider, installed once for reqwest and kube alike.

/// Installs ring as rustls' process-wide crypto provider.
///
/// reqwest is built without a default provider and kube shares the same rustls, so every
/// entry point that may make a TLS (or even plain HTTP) client calls this first. ring is the
/// provider because it builds statically with musl. A second call finds a provider already
/// installed; that is fine, so the error is ignored.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
