//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod c_library;
pub mod images;

use std::path::{Path, PathBuf};

/// A fresh file path in a per-process temporary directory.
pub fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vidu-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A file of the repository, e.g. `examples/sample.png`.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
