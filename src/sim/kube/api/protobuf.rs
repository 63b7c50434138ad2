//! The few Kubernetes protobuf bodies real clients send to the simulator.
//!
//! client-go's typed clients for built-in groups send protobuf
//! (`application/vnd.kubernetes.protobuf`); kubectl 1.33's `auth can-i` posts its
//! SelfSubjectAccessReview that way. The wire format is apimachinery's
//! `runtime/serializer/protobuf`: the magic `k8s\0`, then a `runtime.Unknown` message
//! (1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType)
//! whose `raw` is the object's own message (k8s.io/api/authorization/v1/generated.proto).

use serde_json::{Map, Value, json};

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// One protobuf field: its number and, for length-delimited fields, its bytes.
struct Field<'a> {
    number: u64,
    bytes: Option<&'a [u8]>,
}

/// Reads a base-128 varint at `*pos`.
fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

/// Every field of one message; `None` when the bytes are not a protobuf message.
fn fields(buf: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let number = key >> 3;
        match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
                out.push(Field {
                    number,
                    bytes: None,
                });
            }
            1 => pos = pos.checked_add(8).filter(|p| *p <= buf.len())?,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
                out.push(Field {
                    number,
                    bytes: Some(&buf[pos..end]),
                });
                pos = end;
            }
            5 => pos = pos.checked_add(4).filter(|p| *p <= buf.len())?,
            _ => return None,
        }
    }
    Some(out)
}

/// The length-delimited field `number` of a message.
fn get<'a>(fields: &[Field<'a>], number: u64) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.number == number)
        .and_then(|f| f.bytes)
}

/// The string fields `names` (numbered from 1) of a message, as a JSON object.
fn strings(buf: &[u8], names: &[&str]) -> Option<Value> {
    let fs = fields(buf)?;
    let mut m = Map::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(b) = get(&fs, i as u64 + 1) {
            m.insert((*name).into(), json!(String::from_utf8_lossy(b)));
        }
    }
    Some(Value::Object(m))
}

/// A SelfSubjectAccessReview sent as protobuf, as the JSON object it stands for; an error
/// in the words of apimachinery's protobuf serializer when it is not one.
pub(super) fn self_subject_access_review(body: &[u8]) -> Result<Value, String> {
    let bad = || "couldn't decode the protobuf body: not a Kubernetes object".to_string();
    let unknown = body.strip_prefix(MAGIC).ok_or_else(|| {
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
            .to_string()
    })?;
    let outer = fields(unknown).ok_or_else(bad)?;
    let type_meta =
        strings(get(&outer, 1).unwrap_or_default(), &["apiVersion", "kind"]).ok_or_else(bad)?;
    let raw = fields(get(&outer, 2).unwrap_or_default()).ok_or_else(bad)?;
    let spec = fields(get(&raw, 2).unwrap_or_default()).ok_or_else(bad)?;
    let mut spec_json = Map::new();
    if let Some(attrs) = get(&spec, 1) {
        let names = [
            "namespace",
            "verb",
            "group",
            "version",
            "resource",
            "subresource",
            "name",
        ];
        spec_json.insert(
            "resourceAttributes".into(),
            strings(attrs, &names).ok_or_else(bad)?,
        );
    }
    if let Some(attrs) = get(&spec, 2) {
        spec_json.insert(
            "nonResourceAttributes".into(),
            strings(attrs, &["path", "verb"]).ok_or_else(bad)?,
        );
    }
    let mut review = type_meta;
    if let Some(m) = review.as_object_mut() {
        m.insert("metadata".into(), json!({}));
        m.insert("spec".into(), Value::Object(spec_json));
    }
    Ok(review)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-delimited field.
    fn ld(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![(number << 3) | 2, u8::try_from(bytes.len()).unwrap()];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn a_protobuf_review_reads_as_its_json() {
        let attrs = [
            ld(1, b"default"),
            ld(2, b"create"),
            ld(3, b"kubevirt.io"),
            ld(5, b"virtualmachines"),
        ]
        .concat();
        let spec = ld(1, &attrs);
        let raw = [ld(1, b""), ld(2, &spec)].concat();
        let type_meta = [
            ld(1, b"authorization.k8s.io/v1"),
            ld(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [MAGIC.to_vec(), ld(1, &type_meta), ld(2, &raw)].concat();
        assert_eq!(
            self_subject_access_review(&body).unwrap(),
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                   "metadata": {}, "spec": {"resourceAttributes": {"namespace": "default",
                   "verb": "create", "group": "kubevirt.io", "resource": "virtualmachines"}}})
        );
        assert_eq!(
            self_subject_access_review(b"{}").unwrap_err(),
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        );
        assert!(self_subject_access_review(b"k8s\0\x0a\xff").is_err());
    }
}
