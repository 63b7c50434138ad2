//! Retry-token generations: the `generations.json` state file that moves an instance to a fresh
//! `opc-retry-token` after a delete or an invalidated token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use crate::model::{ErrorClass, ProviderError};

/// The generations file of one state directory.
#[derive(Debug)]
pub(crate) struct Generations {
    path: PathBuf,
    /// Serialises read-modify-write of the file within this process.
    lock: Mutex<()>,
}

impl Generations {
    /// The generations kept under `state_dir` (`oci/generations.json`).
    pub(crate) fn new(state_dir: &Path) -> Generations {
        Generations {
            path: state_dir.join("oci").join("generations.json"),
            lock: Mutex::new(()),
        }
    }

    /// The current generation of `key`; 0 when it was never bumped.
    pub(crate) async fn get(&self, key: &str) -> u64 {
        let _guard = self.lock.lock().await;
        read_generations(&self.path).get(key).copied().unwrap_or(0)
    }

    /// Moves `key` to a fresh retry token: after a delete or an invalidated token.
    pub(crate) async fn bump(&self, key: &str) -> Result<u64, ProviderError> {
        let _guard = self.lock.lock().await;
        let mut all = read_generations(&self.path);
        let next = all.get(key).copied().unwrap_or(0) + 1;
        all.insert(key.to_string(), next);
        let json = serde_json::to_vec_pretty(&all).map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot encode generations: {e}"),
            )
        })?;
        write_atomic(&self.path, &json)?;
        Ok(next)
    }
}

/// The key of one instance in the generations file.
pub(crate) fn generation_key(project: &str, spec: &str, name: &str) -> String {
    format!("{project}/{spec}/{name}")
}

/// Every generation in the file at `path`.
pub(crate) fn read_generations(path: &Path) -> BTreeMap<String, u64> {
    // A missing or unreadable file means generation 0 everywhere; the write is atomic,
    // so a corrupt file can only come from a hand edit.
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes `bytes` to `path` via a temp file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .and_then(|()| crate::files::write_atomic(path, bytes, None))
        .map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot write `{}`: {e}", path.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_survive_atomic_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oci/generations.json");
        assert!(read_generations(&path).is_empty());
        let mut g = BTreeMap::new();
        g.insert(generation_key("lab", "a1", "a1-01"), 2u64);
        write_atomic(&path, &serde_json::to_vec(&g).unwrap()).unwrap();
        assert_eq!(
            read_generations(&path)[&generation_key("lab", "a1", "a1-01")],
            2
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[tokio::test]
    async fn bump_starts_at_one_and_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let g = Generations::new(dir.path());
        assert_eq!(g.get("lab/a1/a1-01").await, 0);
        assert_eq!(g.bump("lab/a1/a1-01").await.unwrap(), 1);
        assert_eq!(g.bump("lab/a1/a1-01").await.unwrap(), 2);
        assert_eq!(g.get("lab/a1/a1-01").await, 2);
        assert_eq!(g.get("lab/a1/a1-02").await, 0);
    }
}
