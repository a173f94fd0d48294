//! Helpers shared by the integration tests: one place for temporary files, the sample image,
//! the emulated setup, the programs they run.
#![allow(dead_code)]

pub mod c_library;
#[cfg(feature = "emulator")]
pub mod emulated;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod images;
pub mod tools;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// This test process's temporary directory.
fn process_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vidu-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file path in this process's temporary directory.
pub fn temp_path(name: &str) -> PathBuf {
    process_dir().join(name)
}

/// A fresh, empty directory of its own, for tests that check what is left behind.
pub fn scratch_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = process_dir().join(format!("scratch-{}", N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file of the repository, e.g. `examples/sample.png`.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The repository's sample image (256x192 PNG).
pub const SAMPLE_PNG: &[u8] = include_bytes!("../../examples/sample.png");

/// The directory holds exactly the given file names (no temporary leftovers).
pub fn assert_dir_holds(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, names, "files in {}", dir.display());
}
