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
    /// The `Accept` header (OpenAPI answers JSON unless only protobuf is accepted).
    pub accept: &'a str,
    /// The `If-None-Match` header (a matching OpenAPI v2 ETag is answered 304).
    pub if_none_match: &'a str,
    /// The caller holds a read-only token.
    pub read_only: bool,
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

    /// `?dryRun=All`: answer as if written, write nothing. Any other value is refused with
    /// the API server's own text (apiserver/pkg/apis/meta/validation ValidateDryRun).
    pub(super) fn dry_run(&self) -> Result<bool, ApiError> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k == "dryRun")
            .map(|(_, v)| v.as_str())
            .collect();
        match values.as_slice() {
            [] => Ok(false),
            ["All"] => Ok(true),
            other => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }

    /// `?fieldValidation=`: what to do with fields the schema does not know. The default is
    /// Warn (kubernetes.io/docs/reference/using-api/api-concepts/#field-validation); kubectl
    /// sends Strict unless `--validate=false|warn`.
    pub(super) fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.get("fieldValidation") {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Invalid value: {other:?}: fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\""
            ))),
        }
    }
}

/// The `fieldValidation` directive of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldValidation {
    /// Unknown fields are dropped silently.
    Ignore,
    /// Unknown fields are dropped, each named in a `Warning` header.
    Warn,
    /// Unknown fields fail the request with 400.
    Strict,
}

/// The media types a create or update body may have; anything else is 415
/// (apiserver/pkg/endpoints/handlers/negotiation: NegotiateInputSerializer). An absent
/// Content-Type is read as JSON, the first supported type.
pub(super) fn check_body_type(req: &Req<'_>, custom: bool) -> Result<(), ApiError> {
    let ct = media_type(req.content_type);
    let accepted: &[&str] = if custom {
        &["application/json", "application/yaml"]
    } else {
        &[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ]
    };
    if ct.is_empty() || (accepted.contains(&ct) && ct != "application/vnd.kubernetes.protobuf") {
        return Ok(());
    }
    Err(unsupported_media_type(accepted))
}

/// The media type without parameters (`; charset=utf-8`), as the API server compares it.
pub(super) fn media_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

/// 415, as apiserver's negotiation.NewUnsupportedMediaTypeError words it.
pub(super) fn unsupported_media_type(accepted: &[&str]) -> ApiError {
    ApiError::new(
        http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
    )
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
        // The decoder's words for a body that is not JSON (apimachinery json serializer).
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: {e}"
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
