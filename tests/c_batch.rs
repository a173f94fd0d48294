//! examples/c/batch.c, compiled against the installed library (tests/common/c_library.rs), runs a batch through `vidu_client_run_batch` on an emulator where one job fails:
//! every other output byte for byte, the failure with its task id; also under valgrind.
#![cfg(feature = "emulator")]

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use common::emulated::failing_prompts;
use common::tools::{require, wrapped};
use vidu::emulator::Emulator;

/// The program, built once, linked to the installed libvidu.so.
fn program() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        common::c_library::build_program(
            "cc",
            &["-std=c99", "-g", "-Wall", "-Wextra", "-pedantic", "-Werror"],
            "examples/c/batch.c",
            "c-batch-program",
        )
    })
}

fn run(wrapper: &[&str], name: &str) -> (Output, PathBuf, Emulator) {
    let emulator = failing_prompts("storm");
    let dir = common::temp_path(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = wrapped(wrapper, program())
        .env("VIDU_BASE_URL", emulator.base_url())
        .arg(common::repo_file("examples/sample.png"))
        .arg(&dir)
        .args(["waves", "wind", "a storm", "rain"])
        .output()
        .unwrap();
    (out, dir, emulator)
}

fn check(out: &Output, dir: &std::path::Path, emulator: &Emulator) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    for i in [0, 1, 3] {
        let path = dir.join(format!("{i}.mp4"));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            Emulator::video_bytes(),
            "job {i} byte for byte"
        );
        assert!(
            stdout.contains(&format!("wrote {}", path.display())),
            "{stdout}"
        );
    }
    assert!(
        !dir.join("2.mp4").exists(),
        "nothing at the failed job's output"
    );
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("job 2: task "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(failed.contains("failed"), "{failed}");
    assert_eq!(stderr.matches("submitted task").count(), 4, "{stderr}");
    assert_eq!(emulator.stats().submits, 4);
}

#[test]
fn c_batch_writes_every_video_and_reports_the_failed_job() {
    if !require("cc", "the C batch example") {
        return;
    }
    let (out, dir, emulator) = run(&[], "c-batch");
    check(&out, &dir, &emulator);
}

#[test]
fn c_batch_is_clean_under_valgrind() {
    if !require("cc", "the C batch example") || !require("valgrind", "the valgrind run of it") {
        return;
    }
    // One known block of std's (tests/c/leaks.supp, which says why); anything else fails.
    let suppressions = format!(
        "--suppressions={}",
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/c/leaks.supp")
            .display()
    );
    let (out, dir, emulator) = run(
        &[
            "valgrind",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=99",
            "--quiet",
            &suppressions,
        ],
        "c-batch-valgrind",
    );
    check(&out, &dir, &emulator);
}
