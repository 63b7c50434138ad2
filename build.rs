//! Bakes VERSION, the target triple and the git commit into the binary, and gzips the
//! Kubernetes simulator's JSON Schemas (`data/schemas/jsonschema/`) into `OUT_DIR`.

use std::io::Write;

fn main() {
    let version = std::fs::read_to_string("VERSION")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "0.0.0-unknown".to_string());
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=VAUTO_VERSION={version}");
    println!("cargo:rustc-env=VAUTO_COMMIT={commit}");
    println!("cargo:rustc-env=VAUTO_TARGET={target}");
    println!("cargo:rerun-if-changed=VERSION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    // Only the simulator (cargo feature `sim`) embeds the schemas.
    if std::env::var_os("CARGO_FEATURE_SIM").is_some()
        && let Err(e) = pack_schemas()
    {
        panic!("cannot pack data/schemas/jsonschema: {e}");
    }
}

/// Writes `OUT_DIR/kube-schemas.gz`: for each schema file, `name\nlength\n` and its bytes,
/// all gzipped (about 630 KB of JSON becomes about 78 KB).
fn pack_schemas() -> std::io::Result<()> {
    let dir = std::path::Path::new("data/schemas/jsonschema");
    println!("cargo:rerun-if-changed=data/schemas/jsonschema");
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut packed = Vec::new();
    for name in names {
        let bytes = std::fs::read(dir.join(&name))?;
        write!(packed, "{name}\n{}\n", bytes.len())?;
        packed.extend_from_slice(&bytes);
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&packed)?;
    std::fs::write(out.join("kube-schemas.gz"), gz.finish()?)
}
