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
use std::sync::OnceLock;

/// This test process's temporary directory, `$TMPDIR/vidu-it-<pid>`: every file a test makes
/// goes under it, and it is removed when the process exits (passing or failing), so that a
/// run leaves nothing in the temp directory. `.ci/run` checks that.
fn process_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove_process_dir() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    extern "C" {
        // The C library's exit hook: libtest's main returns, or calls `exit` when a test
        // failed; either way the hooks run. Statics are never dropped in Rust.
        fn atexit(hook: extern "C" fn()) -> std::ffi::c_int;
    }
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vidu-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: registers a plain function that only removes a directory.
        assert_eq!(unsafe { atexit(remove_process_dir) }, 0, "atexit");
        dir
    })
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

/// A fresh, empty directory named `name` in this process's temporary directory.
pub fn named_dir(name: &str) -> PathBuf {
    let dir = temp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` batch jobs on the sample image, prompts `job 0`, `job 1`, ... writing `<i>.mp4` into
/// `out`.
pub fn sample_batch(n: usize, out: &Path) -> Vec<vidu::BatchJob<'static>> {
    (0..n)
        .map(|i| {
            vidu::BatchJob::new(
                vidu::Job::new(repo_file("examples/sample.png")).prompt(format!("job {i}")),
                out.join(format!("{i}.mp4")),
            )
        })
        .collect()
}

/// A fresh, empty directory removed when dropped: for a test whose files are big enough to be
/// worth freeing before the process ends.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        TempDir(scratch_dir())
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// Returns once `done()` holds, checking every millisecond; fails the test after 30 s. For
/// waiting on an event a test can only observe (the emulator's request counts), never for
/// letting time pass.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
