//! One request as the verb handlers see it: query parameters and the decoded body.

use serde_json::Value;

use super::Shared;
use super::error::ApiError;

/// The parts of a request the verb handlers need.
pub(super) struct Req<'a> {
    pub sh: &'a Shared,
    pub query: &'a Query,
    pub body: &'a [u8],
    pub content_type: &'a str,
    pub now: i64,
}

/// Query parameters of one request.
pub(super) struct Query(pub(super) Vec<(String, String)>);

impl Query {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

pub(super) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Parses a request body as JSON, or YAML for server-side apply.
pub(super) fn parse_body(req: &Req<'_>) -> Result<Value, ApiError> {
    let v: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) if req.content_type.contains("yaml") => {
            serde_yaml::from_slice(req.body).map_err(|y| {
                ApiError::bad_request(format!("error decoding yaml body: {y} (json: {e})"))
            })?
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "error decoding json body: {e}"
            )));
        }
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a json object",
        ));
    }
    Ok(v)
}
