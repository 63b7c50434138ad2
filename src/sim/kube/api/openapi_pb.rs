//! The OpenAPI v2 document as protobuf: gnostic's `openapi.v2.Document`
//! (github.com/google/gnostic-models `openapiv2/OpenAPIv2.proto`), which kubectl before 1.29
//! reads from `/openapi/v2` (client-go discovery `OpenAPISchema()`, then kube-openapi
//! `pkg/util/proto` for `explain`, client-side validation and `diff`).
//!
//! The API server makes it from its JSON document: kube-openapi `handler.ToProtoBinary` =
//! gnostic `openapi_v2.ParseDocument(json)` + `proto.Marshal`. This encoder does the same
//! walk over the JSON [`Value`]: every key gnostic maps is written under the field number of
//! the `.proto`, maps become the ordered `Named*` pairs in document order, `x-` keys become
//! `NamedAny` vendor extensions whose `Any.yaml` is the value as YAML (gnostic `NewAny`:
//! `compiler.Marshal`), and enum values and defaults are `Any`s the same way. Proto3
//! scalars equal to their zero value are not written (as Go's `proto.Marshal` does);
//! sub-messages are written whenever their key is present, even when empty, because
//! kubectl tells an object with `properties: {}` from a map by that presence.

use serde_json::{Map, Value};

/// One protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// A length-delimited field (string, bytes or message), written even when empty.
    fn len_delimited(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// A proto3 `string`: not written when empty.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.len_delimited(field, s.as_bytes());
        }
    }

    /// A sub-message: written whenever present.
    fn message(&mut self, field: u32, m: Msg) {
        self.len_delimited(field, &m.0);
    }

    /// A proto3 `bool`: not written when false.
    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    /// A proto3 `int64`: not written when zero; negative values as 10-byte varints.
    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }

    /// A proto3 `double` (fixed64): not written when its bits are zero.
    fn double(&mut self, field: u32, v: f64) {
        if v.to_bits() != 0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The string at `key` of `obj`, if it is one.
    fn string_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            self.string(field, s);
        }
    }

    fn bool_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(b) = obj.get(key).and_then(Value::as_bool) {
            self.boolean(field, b);
        }
    }

    fn int64_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(v) = obj.get(key).and_then(Value::as_i64) {
            self.int64(field, v);
        }
    }

    fn double_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(v) = obj.get(key).and_then(Value::as_f64) {
            self.double(field, v);
        }
    }

    /// A `repeated string` from a JSON array of strings.
    fn strings_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        for s in obj
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            // Repeated strings are written even when empty (Go writes every element).
            self.len_delimited(field, s.as_bytes());
        }
    }

    /// An `Any` at `key`, when present.
    fn any_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        if let Some(v) = obj.get(key) {
            self.message(field, any(v));
        }
    }

    /// `repeated Any` (e.g. `enum`) from a JSON array.
    fn anys_of(&mut self, field: u32, obj: &Map<String, Value>, key: &str) {
        for v in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            self.message(field, any(v));
        }
    }

    /// `repeated NamedAny vendor_extension`: every `x-` key, in document order.
    fn vendor_extensions(&mut self, field: u32, obj: &Map<String, Value>) {
        for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
            let mut named = Msg::default();
            named.string(1, k);
            named.message(2, any(v));
            self.message(field, named);
        }
    }
}

/// `Any {google.protobuf.Any value = 1; string yaml = 2;}` with the value as block YAML.
fn any(v: &Value) -> Msg {
    // JSON is YAML too, should serde_yaml ever refuse a value.
    let yaml = serde_yaml::to_string(v).unwrap_or_else(|_| format!("{v}\n"));
    let mut m = Msg::default();
    m.string(2, &yaml);
    m
}

/// The JSON object at `key`, if it is one.
fn object<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    obj.get(key).and_then(Value::as_object)
}

/// Encodes a Swagger 2.0 document as `openapi.v2.Document`.
pub(super) fn document(doc: &Value) -> Vec<u8> {
    let empty = Map::new();
    let d = doc.as_object().unwrap_or(&empty);
    let mut m = Msg::default();
    m.string_of(1, d, "swagger");
    if let Some(info) = object(d, "info") {
        // Info {title = 1; version = 2; description = 3; terms_of_service = 4; ...; vendor_extension = 7}
        let mut i = Msg::default();
        i.string_of(1, info, "title");
        i.string_of(2, info, "version");
        i.string_of(3, info, "description");
        i.string_of(4, info, "termsOfService");
        i.vendor_extensions(7, info);
        m.message(2, i);
    }
    m.string_of(3, d, "host");
    m.string_of(4, d, "basePath");
    m.strings_of(5, d, "schemes");
    m.strings_of(6, d, "consumes");
    m.strings_of(7, d, "produces");
    if let Some(paths) = object(d, "paths") {
        // Paths {repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2;}
        let mut p = Msg::default();
        p.vendor_extensions(1, paths);
        for (name, item) in paths.iter().filter(|(k, _)| k.starts_with('/')) {
            let mut named = Msg::default();
            named.string(1, name);
            named.message(2, path_item(item.as_object().unwrap_or(&empty)));
            p.message(2, named);
        }
        m.message(8, p);
    }
    if let Some(defs) = object(d, "definitions") {
        // Definitions {repeated NamedSchema additional_properties = 1;}
        m.message(9, named_schemas(defs));
    }
    m.vendor_extensions(16, d);
    m.0
}

/// `repeated NamedSchema additional_properties = 1` (Definitions, Properties).
fn named_schemas(map: &Map<String, Value>) -> Msg {
    let empty = Map::new();
    let mut out = Msg::default();
    for (name, s) in map {
        let mut named = Msg::default();
        named.string(1, name);
        named.message(2, schema(s.as_object().unwrap_or(&empty)));
        out.message(1, named);
    }
    out
}

/// `PathItem {_ref = 1; get = 2; put = 3; post = 4; delete = 5; options = 6; head = 7;
/// patch = 8; repeated ParametersItem parameters = 9; vendor_extension = 10}`.
fn path_item(item: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    m.string_of(1, item, "$ref");
    for (field, verb) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = object(item, verb) {
            m.message(field, operation(op));
        }
    }
    parameters(&mut m, 9, item);
    m.vendor_extensions(10, item);
    m
}

/// `Operation {repeated string tags = 1; summary = 2; description = 3; operation_id = 5;
/// produces = 6; consumes = 7; repeated ParametersItem parameters = 8; Responses responses = 9;
/// schemes = 10; deprecated = 11; vendor_extension = 13}`.
fn operation(op: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    m.strings_of(1, op, "tags");
    m.string_of(2, op, "summary");
    m.string_of(3, op, "description");
    m.string_of(5, op, "operationId");
    m.strings_of(6, op, "produces");
    m.strings_of(7, op, "consumes");
    parameters(&mut m, 8, op);
    if let Some(responses) = object(op, "responses") {
        m.message(9, self::responses(responses));
    }
    m.strings_of(10, op, "schemes");
    m.bool_of(11, op, "deprecated");
    m.vendor_extensions(13, op);
    m
}

/// `repeated ParametersItem` at `field`: `ParametersItem {oneof {Parameter parameter = 1;
/// JsonReference json_reference = 2;}}`.
fn parameters(m: &mut Msg, field: u32, obj: &Map<String, Value>) {
    for p in obj
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        let mut item = Msg::default();
        if p.contains_key("$ref") {
            item.message(2, json_reference(p));
        } else {
            item.message(1, parameter(p));
        }
        m.message(field, item);
    }
}

/// `JsonReference {_ref = 1; description = 2}`.
fn json_reference(obj: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    m.string_of(1, obj, "$ref");
    m.string_of(2, obj, "description");
    m
}

/// `Parameter {oneof {BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2;}}`;
/// `NonBodyParameter {oneof {header = 1; form_data = 2; query = 3; path = 4}}` chosen by `in`.
fn parameter(p: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    let location = p.get("in").and_then(Value::as_str).unwrap_or("");
    if location == "body" {
        // BodyParameter {description = 1; name = 2; in = 3; required = 4; Schema schema = 5;
        // vendor_extension = 6}
        let mut b = Msg::default();
        b.string_of(1, p, "description");
        b.string_of(2, p, "name");
        b.string_of(3, p, "in");
        b.bool_of(4, p, "required");
        if let Some(s) = object(p, "schema") {
            b.message(5, schema(s));
        }
        b.vendor_extensions(6, p);
        m.message(1, b);
        return m;
    }
    let (choice, has_allow_empty) = match location {
        "header" => (1, false),
        "formData" => (2, true),
        "path" => (4, false),
        _ => (3, true),
    };
    let mut nb = Msg::default();
    nb.message(choice, sub_schema(p, has_allow_empty));
    m.message(2, nb);
    m
}

/// `QueryParameterSubSchema`/`FormDataParameterSubSchema` (with `allow_empty_value = 5`) and
/// `PathParameterSubSchema`/`HeaderParameterSubSchema` (without it, so every later field
/// number is one less): required = 1, in = 2, description = 3, name = 4, then type,
/// format, items, collection_format, default, maximum, exclusive_maximum, minimum,
/// exclusive_minimum, max_length, min_length, pattern, max_items, min_items, unique_items,
/// enum, multiple_of, vendor_extension.
fn sub_schema(p: &Map<String, Value>, has_allow_empty: bool) -> Msg {
    let mut m = Msg::default();
    m.bool_of(1, p, "required");
    m.string_of(2, p, "in");
    m.string_of(3, p, "description");
    m.string_of(4, p, "name");
    let base = if has_allow_empty {
        m.bool_of(5, p, "allowEmptyValue");
        6
    } else {
        5
    };
    m.string_of(base, p, "type");
    m.string_of(base + 1, p, "format");
    // base + 2: PrimitivesItems items (not used by the documents served here).
    m.string_of(base + 3, p, "collectionFormat");
    m.any_of(base + 4, p, "default");
    m.double_of(base + 5, p, "maximum");
    m.bool_of(base + 6, p, "exclusiveMaximum");
    m.double_of(base + 7, p, "minimum");
    m.bool_of(base + 8, p, "exclusiveMinimum");
    m.int64_of(base + 9, p, "maxLength");
    m.int64_of(base + 10, p, "minLength");
    m.string_of(base + 11, p, "pattern");
    m.int64_of(base + 12, p, "maxItems");
    m.int64_of(base + 13, p, "minItems");
    m.bool_of(base + 14, p, "uniqueItems");
    m.anys_of(base + 15, p, "enum");
    m.double_of(base + 16, p, "multipleOf");
    m.vendor_extensions(base + 17, p);
    m
}

/// `Responses {repeated NamedResponseValue response_code = 1; vendor_extension = 2}`;
/// `ResponseValue {oneof {Response response = 1; JsonReference json_reference = 2;}}`;
/// `Response {description = 1; SchemaItem schema = 2; ...; vendor_extension = 5}`;
/// `SchemaItem {oneof {Schema schema = 1; FileSchema file_schema = 2;}}`.
fn responses(obj: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    for (code, r) in obj.iter().filter(|(k, _)| !k.starts_with("x-")) {
        let Some(r) = r.as_object() else { continue };
        let mut value = Msg::default();
        if r.contains_key("$ref") {
            value.message(2, json_reference(r));
        } else {
            let mut resp = Msg::default();
            resp.string_of(1, r, "description");
            if let Some(s) = object(r, "schema") {
                let mut item = Msg::default();
                item.message(1, schema(s));
                resp.message(2, item);
            }
            resp.vendor_extensions(5, r);
            value.message(1, resp);
        }
        let mut named = Msg::default();
        named.string(1, code);
        named.message(2, value);
        m.message(1, named);
    }
    m.vendor_extensions(2, obj);
    m
}

/// `Schema` (OpenAPIv2.proto): _ref = 1, format = 2, title = 3, description = 4,
/// Any default = 5, multiple_of = 6, maximum = 7, exclusive_maximum = 8, minimum = 9,
/// exclusive_minimum = 10, max_length = 11, min_length = 12, pattern = 13, max_items = 14,
/// min_items = 15, unique_items = 16, max_properties = 17, min_properties = 18,
/// repeated string required = 19, repeated Any enum = 20,
/// AdditionalPropertiesItem additional_properties = 21, TypeItem type = 22,
/// ItemsItem items = 23, repeated Schema all_of = 24, Properties properties = 25,
/// discriminator = 26, read_only = 27, Any example = 30, vendor_extension = 31.
fn schema(s: &Map<String, Value>) -> Msg {
    let empty = Map::new();
    let mut m = Msg::default();
    m.string_of(1, s, "$ref");
    m.string_of(2, s, "format");
    m.string_of(3, s, "title");
    m.string_of(4, s, "description");
    m.any_of(5, s, "default");
    m.double_of(6, s, "multipleOf");
    m.double_of(7, s, "maximum");
    m.bool_of(8, s, "exclusiveMaximum");
    m.double_of(9, s, "minimum");
    m.bool_of(10, s, "exclusiveMinimum");
    m.int64_of(11, s, "maxLength");
    m.int64_of(12, s, "minLength");
    m.string_of(13, s, "pattern");
    m.int64_of(14, s, "maxItems");
    m.int64_of(15, s, "minItems");
    m.bool_of(16, s, "uniqueItems");
    m.int64_of(17, s, "maxProperties");
    m.int64_of(18, s, "minProperties");
    m.strings_of(19, s, "required");
    m.anys_of(20, s, "enum");
    match s.get("additionalProperties") {
        // AdditionalPropertiesItem {oneof {Schema schema = 1; bool boolean = 2;}}: the
        // oneof is written even for `false` (a set oneof field always is).
        Some(Value::Object(sub)) => {
            let mut a = Msg::default();
            a.message(1, schema(sub));
            m.message(21, a);
        }
        Some(Value::Bool(b)) => {
            let mut a = Msg::default();
            a.key(2, 0);
            a.varint(u64::from(*b));
            m.message(21, a);
        }
        _ => {}
    }
    match s.get("type") {
        // TypeItem {repeated string value = 1;}: one string or a list.
        Some(Value::String(t)) => {
            let mut t_msg = Msg::default();
            t_msg.len_delimited(1, t.as_bytes());
            m.message(22, t_msg);
        }
        Some(Value::Array(ts)) => {
            let mut t_msg = Msg::default();
            for t in ts.iter().filter_map(Value::as_str) {
                t_msg.len_delimited(1, t.as_bytes());
            }
            m.message(22, t_msg);
        }
        _ => {}
    }
    match s.get("items") {
        // ItemsItem {repeated Schema schema = 1;}: one schema or a list.
        Some(Value::Object(sub)) => {
            let mut i = Msg::default();
            i.message(1, schema(sub));
            m.message(23, i);
        }
        Some(Value::Array(subs)) => {
            let mut i = Msg::default();
            for sub in subs {
                i.message(1, schema(sub.as_object().unwrap_or(&empty)));
            }
            m.message(23, i);
        }
        _ => {}
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(sub.as_object().unwrap_or(&empty)));
    }
    if let Some(props) = object(s, "properties") {
        // Properties {repeated NamedSchema additional_properties = 1;}
        m.message(25, named_schemas(props));
    }
    m.string_of(26, s, "discriminator");
    m.bool_of(27, s, "readOnly");
    m.any_of(30, s, "example");
    m.vendor_extensions(31, s);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One decoded field: varints as numbers, length-delimited fields as bytes.
    #[derive(Debug, PartialEq)]
    enum F<'a> {
        Varint(u64),
        Fixed64(u64),
        Bytes(&'a [u8]),
    }

    fn varint(buf: &[u8], pos: &mut usize) -> u64 {
        let mut out = 0u64;
        let mut shift = 0;
        loop {
            let b = buf[*pos];
            *pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return out;
            }
            shift += 7;
        }
    }

    /// Every field of a message, in order; panics on bytes that are not a message.
    fn decode(buf: &[u8]) -> Vec<(u64, F<'_>)> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < buf.len() {
            let key = varint(buf, &mut pos);
            let f = match key & 7 {
                0 => F::Varint(varint(buf, &mut pos)),
                1 => {
                    let v = u64::from_le_bytes(buf[pos..pos + 8].try_into().unwrap());
                    pos += 8;
                    F::Fixed64(v)
                }
                2 => {
                    let len = varint(buf, &mut pos) as usize;
                    pos += len;
                    F::Bytes(&buf[pos - len..pos])
                }
                w => panic!("wire type {w}"),
            };
            out.push((key >> 3, f));
        }
        out
    }

    fn bytes_of<'a>(fields: &[(u64, F<'a>)], n: u64) -> Vec<&'a [u8]> {
        fields
            .iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, f)| match f {
                F::Bytes(b) => *b,
                other => panic!("field {n} is {other:?}"),
            })
            .collect()
    }

    fn one(buf: &[u8], n: u64) -> &[u8] {
        let all = bytes_of(&decode(buf), n);
        assert_eq!(all.len(), 1, "field {n}");
        all[0]
    }

    fn string(buf: &[u8], n: u64) -> String {
        String::from_utf8(one(buf, n).to_vec()).unwrap()
    }

    /// `(name, value)` of each `Named*` pair of a repeated field.
    fn named(buf: &[u8], n: u64) -> Vec<(String, &[u8])> {
        bytes_of(&decode(buf), n)
            .into_iter()
            .map(|pair| (string(pair, 1), one(pair, 2)))
            .collect()
    }

    #[test]
    fn scalars_follow_proto3_rules() {
        let s = json!({
            "type": "integer", "format": "int32", "minimum": 0, "maximum": 2.5,
            "maxLength": -1, "uniqueItems": false, "readOnly": true,
            "required": ["a", ""], "enum": ["x", 1],
            "additionalProperties": false,
            "x-kubernetes-preserve-unknown-fields": true,
        });
        let bytes = schema(s.as_object().unwrap()).0;
        assert_eq!(
            decode(&bytes),
            vec![
                (2, F::Bytes(b"int32")),
                (7, F::Fixed64(2.5f64.to_bits())),
                (11, F::Varint(u64::MAX)),
                (19, F::Bytes(b"a")),
                (19, F::Bytes(b"")),
                (20, F::Bytes(&[0x12, 2, b'x', b'\n'])),
                (20, F::Bytes(&[0x12, 2, b'1', b'\n'])),
                (21, F::Bytes(&[0x10, 0])),
                (
                    22,
                    F::Bytes(&[0x0a, 7, b'i', b'n', b't', b'e', b'g', b'e', b'r'])
                ),
                (27, F::Varint(1)),
                (
                    31,
                    F::Bytes(b"\x0a\x24x-kubernetes-preserve-unknown-fields\x12\x07\x12\x05true\n")
                ),
            ]
        );
    }

    #[test]
    fn query_and_path_parameters_use_their_own_field_numbers() {
        let op = json!({"parameters": [
            {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true},
            {"name": "name", "in": "path", "type": "string", "required": true},
            {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/X"}},
        ]});
        let bytes = operation(op.as_object().unwrap()).0;
        let items = bytes_of(&decode(&bytes), 8);
        assert_eq!(items.len(), 3);
        // ParametersItem.parameter(1) -> Parameter.non_body_parameter(2) -> query(3)
        let query = one(one(one(items[0], 1), 2), 3);
        assert_eq!(
            decode(query),
            vec![
                (2, F::Bytes(b"query")),
                (4, F::Bytes(b"fieldValidation")),
                (6, F::Bytes(b"string")),
                (20, F::Varint(1)),
            ]
        );
        // -> path(4): no allow_empty_value, so type is 5.
        let path = one(one(one(items[1], 1), 2), 4);
        assert_eq!(
            decode(path),
            vec![
                (1, F::Varint(1)),
                (2, F::Bytes(b"path")),
                (4, F::Bytes(b"name")),
                (5, F::Bytes(b"string")),
            ]
        );
        // Parameter.body_parameter(1) -> schema(5) -> _ref(1)
        let body = one(one(items[2], 1), 1);
        assert_eq!(string(one(body, 5), 1), "#/definitions/X");
    }

    /// The served document, decoded: the VirtualMachine definition with its GVK, its
    /// `spec.runStrategy` and `spec.template`, and the PATCH operation kubectl's
    /// field-validation probe looks for.
    #[test]
    fn the_served_document_decodes_to_the_virtual_machine_definition() {
        let json = super::super::openapi::v2_document().unwrap();
        let bytes = document(&json);
        assert_eq!(string(&bytes, 1), "2.0");
        let info = one(&bytes, 2);
        assert_eq!(string(info, 1), "Kubernetes");

        let defs = named(one(&bytes, 9), 1);
        let names: Vec<&str> = defs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "io.k8s.api.core.v1.Secret",
                "io.k8s.api.core.v1.ConfigMap",
                "io.k8s.api.core.v1.Event",
                "io.kubevirt.v1.VirtualMachine",
                "io.kubevirt.v1.VirtualMachineInstance",
                "io.kubevirt.cdi.v1beta1.DataVolume",
                "io.cncf.cni.k8s.v1.NetworkAttachmentDefinition",
            ]
        );
        let vm = defs[3].1;
        // type: [object]
        assert_eq!(bytes_of(&decode(one(vm, 22)), 1), [b"object".as_slice()]);
        assert_eq!(bytes_of(&decode(vm), 19), [b"spec".as_slice()], "required");
        let ext = named(vm, 31);
        assert_eq!(ext.len(), 1);
        assert_eq!(ext[0].0, "x-kubernetes-group-version-kind");
        assert_eq!(
            string(ext[0].1, 2),
            "- group: kubevirt.io\n  version: v1\n  kind: VirtualMachine\n"
        );
        let props = named(one(vm, 25), 1);
        let prop_names: Vec<&str> = props.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            prop_names,
            ["apiVersion", "kind", "metadata", "spec", "status"]
        );
        let spec = props[3].1;
        assert!(string(spec, 4).starts_with("Spec contains the specification"));
        let spec_props = named(one(spec, 25), 1);
        let run_strategy = spec_props
            .iter()
            .find(|(n, _)| n == "runStrategy")
            .unwrap()
            .1;
        assert_eq!(
            bytes_of(&decode(one(run_strategy, 22)), 1),
            [b"string".as_slice()]
        );
        assert!(string(run_strategy, 4).starts_with("Running state indicates"));
        // No additionalProperties: false, no anyOf, one type everywhere (kubectl's
        // kube-openapi proto parser refuses "definitions with multiple types").
        assert!(decode(spec).iter().all(|(k, _)| *k != 21));

        // The PATCH of /apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name},
        // tagged with the GVK, takes the fieldValidation query parameter.
        let paths = named(one(&bytes, 8), 2);
        let (_, item) = paths
            .iter()
            .find(|(p, _)| {
                p == "/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}"
            })
            .unwrap();
        let patch = one(item, 8);
        assert_eq!(string(patch, 5), "patchVirtualMachine");
        let gvk = named(patch, 13);
        let gvk = gvk
            .iter()
            .find(|(n, _)| n == "x-kubernetes-group-version-kind")
            .unwrap();
        assert_eq!(
            string(gvk.1, 2),
            "group: kubevirt.io\nversion: v1\nkind: VirtualMachine\n"
        );
        let params: Vec<String> = bytes_of(&decode(patch), 8)
            .into_iter()
            .map(|p| string(one(one(one(p, 1), 2), 3), 4))
            .collect();
        assert_eq!(params, ["dryRun", "fieldManager", "fieldValidation"]);
        // responses: "200" -> Response.schema -> Schema._ref
        let codes = named(one(patch, 9), 1);
        assert_eq!(codes[0].0, "200");
        let resp = one(codes[0].1, 1);
        assert_eq!(string(resp, 1), "OK");
        assert_eq!(
            string(one(one(resp, 2), 1), 1),
            "#/definitions/io.kubevirt.v1.VirtualMachine"
        );
    }
}
