//! The examples (built by `cargo test`) run offline as written, and the README's Rust snippet is
//! the one-job example, so that it runs too (the README's doc test only compiles it: run, it
//! would write cat.mp4 into the repository). The `vidu` command's own tests are in cli/tests.
#![cfg(feature = "emulator")]

mod common;

use std::path::Path;

use common::tools::{example, run_to_end};
use vidu::emulator::Emulator;

/// A fresh folder holding `examples/sample.png`, as the examples expect from their working
/// directory (the repository's root).
fn workdir() -> std::path::PathBuf {
    let dir = common::scratch_dir();
    std::fs::create_dir(dir.join("examples")).unwrap();
    std::fs::write(dir.join("examples/sample.png"), common::SAMPLE_PNG).unwrap();
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_one_job_example_writes_the_video_offline() {
    let dir = workdir();
    let o = run_to_end(example("img2video").current_dir(&dir));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.starts_with("task ") && stdout.ends_with(": wrote cat.mp4\n"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(dir.join("cat.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    // One line per state, never "None".
    let stderr = text(&o.stderr);
    assert!(stderr.lines().any(|l| l.ends_with(": queued")), "{stderr}");
    assert!(!stderr.contains("None"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_one_job_example_exits_nonzero_with_one_line_on_an_error() {
    let dir = common::scratch_dir();
    let o = run_to_end(example("img2video").current_dir(&dir));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: error reading the image examples/sample.png"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_batch_example_writes_every_video() {
    let dir = workdir();
    let o = run_to_end(example("batch").current_dir(&dir));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 3, "{}", text(&o.stdout));
    for i in 0..3 {
        let video = std::fs::read(dir.join(format!("batch-out/{i}.mp4"))).unwrap();
        assert_eq!(video, Emulator::video_bytes());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_emulator_example_checks_an_integration() {
    let dir = workdir();
    let o = run_to_end(example("emulator").current_dir(&dir));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("ok: "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_readme_rust_snippet_is_the_one_job_example_and_examples_stay_short() {
    let readme = std::fs::read_to_string(common::repo_file("README.md")).unwrap();
    let example = std::fs::read_to_string(common::repo_file("examples/img2video.rs")).unwrap();
    let code = &example[example.find("use ").unwrap()..];
    let block = readme
        .split("```rust,no_run\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n").next())
        .expect("a rust block in the README");
    assert_eq!(
        block, code,
        "README's snippet = examples/img2video.rs from `use`"
    );
    for name in ["img2video", "batch", "emulator"] {
        let path = Path::new("examples").join(format!("{name}.rs"));
        let lines = std::fs::read_to_string(common::repo_file(path.to_str().unwrap()))
            .unwrap()
            .lines()
            .count();
        assert!(lines < 100, "{name}: {lines} lines");
    }
}
