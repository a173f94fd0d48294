//! The C library, installed into a prefix as a C user installs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `make -C examples/c install PREFIX=<prefix>` once per test process, and the prefix.
///
/// A debug build, in target/capi: a target directory of its own, because the `cargo test` that
/// runs us holds the lock of target/ until it ends. Cargo shares that build between the test
/// binaries (and with tests/dependent_crate.rs); each process copies it into its own prefix,
/// so that concurrent test runs never see a half-copied file.
pub fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = super::temp_path("prefix");
        let out = Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(super::repo_file("examples/c"))
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg("PROFILE=debug")
            .arg(format!("CARGO={}", cargo().display()))
            .arg(format!("CARGO_TARGET_DIR={}", target_dir().display()))
            .output()
            .expect("running make (.ci/run installs it)");
        assert!(
            out.status.success(),
            "make -C examples/c install failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        prefix
    })
}

/// target/capi: where the nested cargo builds run (see [`prefix`]).
pub fn target_dir() -> PathBuf {
    super::repo_file("target/capi")
}

/// The cargo that runs the tests.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from)
}

/// Compiles `source` (a file of the repository) with `compiler` and `flags` into the program
/// `name` of this process's temporary directory, against the installed headers and
/// libvidu.so (found at run time through an rpath).
pub fn build_program(compiler: &str, flags: &[&str], source: &str, name: &str) -> PathBuf {
    let prefix = prefix();
    let lib = prefix.join("lib");
    let binary = super::temp_path(name);
    let out = super::tools::run_to_end(
        Command::new(compiler)
            .args(flags)
            .arg("-I")
            .arg(prefix.join("include"))
            .arg(super::repo_file(source))
            .arg("-o")
            .arg(&binary)
            .arg(format!("-L{}", lib.display()))
            .arg("-lvidu")
            .arg(format!("-Wl,-rpath,{}", lib.display())),
    );
    assert!(
        out.status.success(),
        "compiling {source}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}
