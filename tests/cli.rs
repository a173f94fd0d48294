//! The example CLI's contract: offline quickstart, exit codes, one error line, no file on failure.
#![cfg(feature = "emulator")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::tools::example;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    example("img2video")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// img2video on `provider` and the sample image, polling fast, writing to `out`, with `extra`
/// arguments.
fn run_on_sample(provider: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "--provider",
        provider,
        "--image",
        "examples/sample.png",
        "--poll-interval",
        "0.05",
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, env)
}

/// A fresh output path in a directory of its own.
fn out_path() -> PathBuf {
    common::scratch_dir().join("out.mp4")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn quickstart_runs_offline_on_the_built_in_emulator() {
    for provider in ["umodelverse", "vtrix", "vidu"] {
        let out = out_path();
        let o = run_on_sample(provider, &out, &["--prompt", "a cat"], &[]);
        assert!(o.status.success(), "{provider}: {}", stderr(&o));
        assert!(stderr(&o).contains("built-in emulator"), "{}", stderr(&o));
        assert_eq!(
            std::fs::read(&out).unwrap(),
            vidu::emulator::Emulator::video_bytes()
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.starts_with("task ") && stdout.contains("wrote"),
            "{stdout}"
        );
    }
}

#[test]
fn exit_codes_and_one_clear_line_with_the_task_id() {
    let cases: &[(&str, &[&str], i32)] = &[
        ("task-fails", &[], 3),
        ("never-finishes", &["--timeout", "0.3"], 4),
        ("normal", &["--duration", "99"], 2),
        ("normal", &["--movement-amplitude", "wild"], 2),
    ];
    for (scenario, extra, code) in cases {
        let out = out_path();
        let o = run_on_sample("vidu", &out, extra, &[("VIDU_EMULATOR_SCENARIO", scenario)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(*code), "{scenario} {extra:?}: {err}");
        let error_lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(error_lines.len(), 1, "{err}");
        if *code >= 3 {
            assert!(
                error_lines[0].contains("task "),
                "the task id is named: {err}"
            );
        }
        assert!(!out.exists(), "no file at --output on failure");
    }
}

#[test]
fn bad_usage_exits_2() {
    let o = run(
        &[
            "--provider",
            "nope",
            "--image",
            "x.png",
            "--output",
            "o.mp4",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("umodelverse, vtrix, vidu"));
    let o = run(
        &[
            "--provider",
            "vidu",
            "--base-url",
            "http://127.0.0.1:9",
            "--image",
            "x.png",
            "--output",
            "o.mp4",
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "a base URL without a key: {}",
        stderr(&o)
    );
}

#[test]
fn a_timed_out_task_is_resumed_with_task_id_without_a_new_submit() {
    use vidu::emulator::{Emulator, EmulatorOptions};
    let emu = Emulator::start_with(EmulatorOptions {
        polls_per_state: 4,
        ..Default::default()
    })
    .unwrap();
    let out = out_path();
    let url = emu.base_url();
    let common = [
        "--provider",
        "vtrix",
        "--base-url",
        &url,
        "--api-key",
        "k",
        "--poll-interval",
        "0.02",
        "--output",
        out.to_str().unwrap(),
    ];

    let mut first = common.to_vec();
    first.extend(["--image", "examples/sample.png", "--timeout", "0.05"]);
    let o = run(&first, &[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    let id = err
        .split("--task-id ")
        .nth(1)
        .expect("the resume hint names the task")
        .trim()
        .to_owned();
    assert!(!out.exists());

    let mut second = common.to_vec();
    second.extend(["--task-id", &id, "--timeout", "20"]);
    let o = run(&second, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    assert_eq!(
        emu.stats().submits,
        1,
        "resuming does not pay for a new task"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(&id));
}

#[test]
fn the_official_apis_newer_flags_are_sent_or_refused_by_name() {
    let out = out_path();
    let o = run_on_sample("vidu", &out, &["--off-peak", "--watermark"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A gateway does not take them: exit 2, the field named, nothing written.
    for flag in ["--off-peak", "--audio", "--watermark"] {
        let out = out_path();
        let o = run(
            &[
                "--provider",
                "vtrix",
                flag,
                "--image",
                "examples/sample.png",
                "--output",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        let field = flag.trim_start_matches("--").replace('-', "_");
        assert!(stderr(&o).contains(&field), "{flag}: {}", stderr(&o));
        assert!(!out.exists());
    }
}
