//! The JSON Schemas the simulator ships with: `data/schemas/jsonschema/*.json`, gzipped into
//! the binary by `build.rs` and inflated once per process.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use serde_json::Value;

/// `name\nlength\n<bytes>` for each schema file, gzipped (see `build.rs`).
static PACKED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kube-schemas.gz"));

/// Every embedded schema document by file name.
pub(crate) fn documents() -> Result<&'static BTreeMap<String, Value>, String> {
    static DOCS: OnceLock<Result<BTreeMap<String, Value>, String>> = OnceLock::new();
    DOCS.get_or_init(|| unpack(PACKED))
        .as_ref()
        .map_err(Clone::clone)
}

/// One embedded schema document.
pub(crate) fn document(file: &str) -> Result<&'static Value, String> {
    documents()?
        .get(file)
        .ok_or_else(|| format!("schema `{file}` is not embedded"))
}

fn unpack(gz: &[u8]) -> Result<BTreeMap<String, Value>, String> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot inflate the embedded schemas: {e}"))?;
    let mut out = BTreeMap::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let (name, after) = line(rest)?;
        let (len, after) = line(after)?;
        let len: usize = len
            .parse()
            .map_err(|_| "embedded schemas: bad length".to_string())?;
        let body = after
            .get(..len)
            .ok_or_else(|| "embedded schemas: truncated".to_string())?;
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| format!("embedded schema `{name}` is not json: {e}"))?;
        out.insert(name, doc);
        rest = &after[len..];
    }
    Ok(out)
}

fn line(bytes: &[u8]) -> Result<(String, &[u8]), String> {
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| "embedded schemas: truncated".to_string())?;
    Ok((
        String::from_utf8_lossy(&bytes[..nl]).into_owned(),
        &bytes[nl + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_is_embedded_unchanged() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/schemas/jsonschema");
        let docs = documents().unwrap();
        let mut on_disk = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let want: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            assert_eq!(docs.get(&name), Some(&want), "{name}");
            on_disk += 1;
        }
        assert_eq!(docs.len(), on_disk);
        // The budget: the whole blob stays small next to the 15 MB binary.
        assert!(PACKED.len() < 100_000, "{}", PACKED.len());
    }
}
