//! A signed client of the simulated tenancy, as the OCI CLI would be: how tests and
//! rehearsals make resources vauto did not create (an instance pool, a database, a tagged
//! instance) before a lights-out run acts on them.

use http::{HeaderMap, Method};

use super::OciSim;
use crate::provider::oci::config::parse_private_key;
use crate::provider::oci::signer::Signer;

impl OciSim {
    /// Sends one request signed with the tenancy's API key (the `[DEFAULT]` profile of
    /// [`OciSim::config_file`]) to `path` (e.g. `/20160918/autonomousDatabases`); the status
    /// and the JSON answer (`null` when there is none).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value), String> {
        let config = std::fs::read_to_string(self.config_file()).map_err(|e| e.to_string())?;
        let get = |k: &str| {
            config
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(str::to_string)
                .ok_or_else(|| format!("the sim config has no `{k}`"))
        };
        let pem = std::fs::read_to_string(get("key_file")?).map_err(|e| e.to_string())?;
        let key = parse_private_key(&pem, None, "sim").map_err(|e| e.message)?;
        let key_id = format!(
            "{}/{}/{}",
            get("tenancy")?,
            get("user")?,
            get("fingerprint")?
        );
        let signer = Signer::new(key_id, key);
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let url = format!("{}{path}", self.base_url());
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut headers = HeaderMap::new();
        signer
            .sign(&method, &url, &mut headers, &body)
            .map_err(|e| e.message)?;
        headers.remove(http::header::HOST);
        let resp = reqwest::Client::new()
            .request(method, &url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?
        };
        Ok((status, json))
    }
}
