//! The header compiles as C99 and C++17 with every warning as an error; the C example builds
//! with its Makefile (against the installed C library) and behaves like the Rust CLI against the emulator, for each provider and
//! for a failing task; it runs clean under valgrind (when installed) and AddressSanitizer.

// Without the emulator only the header checks run.
#![cfg_attr(not(feature = "emulator"), allow(dead_code, unused_imports))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::repo_file;
use common::tools::{require, run_ok, run_to_end, without_vidu_env};

/// Compiles `source` with `compiler` and `flags`, syntax only.
fn compile(compiler: &str, flags: &[&str], language: &str, source: &str) {
    let dir = common::temp_path("header-check");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("check.{language}"));
    std::fs::write(&file, source).unwrap();
    run_ok(
        Command::new(compiler)
            .args(flags)
            .arg("-fsyntax-only")
            .arg("-I")
            .arg(repo_file("include"))
            .arg(&file),
    );
}

#[test]
fn header_compiles_as_c99() {
    if !require("cc", "the C99 header check") {
        return;
    }
    compile(
        "cc",
        &["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"],
        "c",
        r#"#include "vidu.h"
#include "vidu.h" /* the include guard works */
#if VIDU_VERSION_MAJOR < 0 || VIDU_VERSION_MINOR < 0 || VIDU_VERSION_PATCH < 0
#error bad version macros
#endif
#if VIDU_VERSION_NUM != (VIDU_VERSION_MAJOR << 16 | VIDU_VERSION_MINOR << 8 | VIDU_VERSION_PATCH)
#error VIDU_VERSION_NUM disagrees with the other version macros
#endif
#ifndef VIDU_HAS_EMULATOR
#error the shipped library has the emulator: VIDU_HAS_EMULATOR must be defined
#endif
static int on_progress(void *userdata, const vidu_progress *p) {
    (void)userdata;
    return p->polls > 3 ? VIDU_PROGRESS_STOP : VIDU_PROGRESS_CONTINUE;
}
int main(void) {
    vidu_config config = {.struct_size = sizeof config, .provider = VIDU_PROVIDER_VIDU,
                          .api_key = "key"};
    vidu_job job = {.struct_size = sizeof job, .image_path = "cat.png",
                    .bgm = VIDU_TRISTATE_TRUE};
    vidu_wait_options wait = {.struct_size = sizeof wait, .timeout_secs = 60,
                              .on_progress = on_progress};
    vidu_emulator *emulator = NULL;
    (void)config; (void)job; (void)wait; (void)emulator;
    return VIDU_VERSION[0] == 0;
}
"#,
    );
}

#[test]
fn header_without_the_emulator_declares_none_of_it() {
    if !require("cc", "the C99 header check") {
        return;
    }
    // A program that uses the emulator only under VIDU_HAS_EMULATOR compiles either way; one
    // that uses it unconditionally does not compile against VIDU_NO_EMULATOR.
    let program = r#"#include "vidu.h"
int main(void) {
#ifdef VIDU_HAS_EMULATOR
#error VIDU_NO_EMULATOR must leave VIDU_HAS_EMULATOR undefined
#endif
    return 0;
}
"#;
    compile(
        "cc",
        &["-std=c99", "-Werror", "-DVIDU_NO_EMULATOR"],
        "c",
        program,
    );
    let dir = common::temp_path("header-no-emulator");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("uses.c");
    std::fs::write(
        &file,
        "#include \"vidu.h\"\nint main(void) { return vidu_emulator_free == 0; }\n",
    )
    .unwrap();
    let out = run_to_end(
        Command::new("cc")
            .args([
                "-std=c99",
                "-Werror",
                "-fsyntax-only",
                "-DVIDU_NO_EMULATOR",
                "-I",
            ])
            .arg(repo_file("include"))
            .arg(&file),
    );
    assert!(
        !out.status.success(),
        "vidu_emulator_free must be undeclared"
    );
}

#[test]
fn headers_compile_as_cpp17() {
    if !require("c++", "the C++ header check") {
        return;
    }
    compile(
        "c++",
        &[
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            "-x",
            "c++",
        ],
        "cpp",
        r#"#include "vidu.h"
#include "vidu.hpp"
int main() {
    vidu_config config{};
    config.provider = VIDU_PROVIDER_VTRIX;
    (void)config;
    return vidu::version().empty() ? 1 : 0;
}
"#,
    );
}

/// Builds `make_target` of examples/c once per test run, against the installed C library
/// (its libvidu.a: the Makefile links statically by default), and returns the binary.
fn build(make_target: &'static str, cell: &'static OnceLock<PathBuf>) -> &'static Path {
    cell.get_or_init(|| {
        let prefix = common::c_library::prefix();
        run_ok(
            Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(repo_file("examples/c"))
                .arg(make_target)
                .arg("BUILD_LIBRARY=no")
                .arg(format!("LIBDIR={}", prefix.join("lib").display())),
        );
        repo_file("examples/c").join(make_target)
    })
}

#[cfg(feature = "emulator")]
mod emulated {
    use super::*;
    use vidu::emulator::Emulator;

    static C_EXAMPLE: OnceLock<PathBuf> = OnceLock::new();

    fn img2video() -> Command {
        without_vidu_env(build("img2video", &C_EXAMPLE))
    }

    fn sample() -> PathBuf {
        repo_file("examples/sample.png")
    }

    fn output(name: &str) -> PathBuf {
        let path = common::temp_path(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn c_example_generates_a_video_for_each_provider() {
        let emulator = Emulator::start().unwrap();
        for provider in ["umodelverse", "vtrix", "vidu"] {
            let out = output(&format!("c-example-{provider}.mp4"));
            let run = run_to_end(
                img2video()
                    .args(["--provider", provider, "--base-url", &emulator.base_url()])
                    .args(["--api-key", "secret", "--prompt", "the cat turns its head"])
                    .arg("--image")
                    .arg(sample())
                    .args(["--poll-interval", "0.05", "--timeout", "30", "--output"])
                    .arg(&out),
            );
            let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
            assert_eq!(run.status.code(), Some(0), "{provider}: {stdout}\n{stderr}");
            assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
            let line = format!(
                "wrote {} ({} bytes)",
                out.display(),
                Emulator::video_bytes().len()
            );
            assert!(
                stdout.starts_with("task ") && stdout.contains(&line),
                "{stdout}"
            );
            assert!(stderr.contains("\rtask "), "a progress line: {stderr:?}");
            assert!(!stderr.contains("error"), "{stderr}");
        }
    }

    #[test]
    fn c_example_starts_its_own_emulator() {
        let out = output("c-example-own.mp4");
        let run = run_to_end(
            img2video()
                .env("VIDU_PROVIDER", "vtrix")
                .arg("--image")
                .arg(sample())
                .args(["--poll-interval", "0.05", "--output"])
                .arg(&out),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.starts_with(
                "img2video: no API key and no base URL: using the built-in emulator at http://127.0.0.1:"
            ),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    }

    #[test]
    fn c_example_reports_a_failed_task_with_its_id() {
        let out = output("c-example-fails.mp4");
        let run = run_to_end(
            img2video()
                .env("VIDU_EMULATOR_SCENARIO", "task-fails")
                .args(["--provider", "vidu", "--image"])
                .arg(sample())
                .args(["--poll-interval", "0.05", "--output"])
                .arg(&out),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "exactly one error line: {stderr:?}");
        let task_id = progress_task_id(&stderr);
        let error = errors[0];
        assert!(error.starts_with("img2video: error: "), "{error}");
        assert!(
            error.contains(task_id),
            "the error names task {task_id}: {error}"
        );
        assert!(!out.exists(), "no file at --output on failure");
        assert!(!stdout_has_output(&run));
    }

    #[test]
    fn c_example_timeout_exits_4_naming_the_task() {
        let out = output("c-example-timeout.mp4");
        let run = run_to_end(
            img2video()
                .env("VIDU_EMULATOR_SCENARIO", "never-finishes")
                .args(["--provider", "umodelverse", "--image"])
                .arg(sample())
                .args(["--poll-interval", "0.05", "--timeout", "0.5", "--output"])
                .arg(&out),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(4), "{stderr}");
        let error = stderr.lines().last().unwrap_or_default();
        assert!(error.starts_with("img2video: error: timed out"), "{stderr}");
        let task_id = progress_task_id(&stderr);
        assert!(
            error.contains(task_id),
            "the error names task {task_id}: {error}"
        );
        assert!(!out.exists());
    }

    #[test]
    fn c_example_resumes_a_timed_out_task_without_a_new_submit() {
        use vidu::emulator::EmulatorOptions;
        let emulator = Emulator::start_with(EmulatorOptions {
            polls_per_state: 4,
            ..Default::default()
        })
        .unwrap();
        let out = output("c-example-resume.mp4");
        let url = emulator.base_url();
        let common = |cmd: &mut Command| {
            cmd.args(["--provider", "vidu", "--base-url", &url, "--api-key", "k"])
                .args(["--poll-interval", "0.02", "--output"])
                .arg(&out);
        };
        let mut first = img2video();
        common(&mut first);
        first
            .arg("--image")
            .arg(sample())
            .args(["--timeout", "0.05"]);
        let run = run_to_end(&mut first);
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(4), "{stderr}");
        let id = stderr
            .split("--task-id ")
            .nth(1)
            .expect("the error says how to resume")
            .trim()
            .to_owned();
        assert!(!out.exists());

        let mut second = img2video();
        common(&mut second);
        second.args(["--task-id", &id, "--timeout", "20"]);
        let run = run_to_end(&mut second);
        assert!(run.status.success(), "{}", text(&run.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
        assert!(text(&run.stdout).contains(&id));
        assert_eq!(emulator.stats().submits, 1, "resuming does not pay again");
    }

    /// The task id in the first progress line (`\rtask <id>: ...`).
    fn progress_task_id(stderr: &str) -> &str {
        stderr
            .split("\rtask ")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .expect("a progress line names the task")
    }

    #[test]
    fn c_example_ctrl_c_stops_the_wait_and_prints_how_to_resume() {
        use std::io::Read;
        let out = output("c-example-interrupted.mp4");
        let mut child = img2video()
            .env("VIDU_EMULATOR_SCENARIO", "never-finishes")
            .args(["--provider", "vidu", "--image"])
            .arg(sample())
            .args(["--poll-interval", "0.05", "--timeout", "60", "--output"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read stderr until a progress line names the task, then interrupt.
        let mut stderr = child.stderr.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let task_id = loop {
            let n = stderr.read(&mut buf).unwrap();
            assert!(n > 0, "stderr closed early: {}", text(&seen));
            seen.extend_from_slice(&buf[..n]);
            let so_far = text(&seen);
            if let Some(rest) = so_far.split("\rtask ").nth(1) {
                if let Some((id, _)) = rest.split_once(':') {
                    break id.to_owned();
                }
            }
            assert!(std::time::Instant::now() < deadline, "no task id: {so_far}");
        };
        let kill = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        stderr.read_to_end(&mut seen).unwrap();
        let status = child.wait().unwrap();
        let stderr = text(&seen);
        assert_eq!(status.code(), Some(130), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("img2video: interrupted: "), "{stderr}");
        assert!(
            last.ends_with(&format!("to resume: --task-id {task_id}")),
            "the resume line: {stderr}"
        );
        assert!(!out.exists(), "nothing at --output");
    }

    fn stdout_has_output(run: &Output) -> bool {
        text(&run.stdout).contains("wrote")
    }

    #[test]
    fn c_example_usage_errors_exit_2() {
        let run = run_to_end(img2video().args(["--provider", "nope"]));
        assert_eq!(run.status.code(), Some(2));
        let run = run_to_end(
            img2video()
                .args(["--provider", "vidu", "--image", "x.png"])
                .args(["--output", "x.mp4", "--poll-interval", "soon"]),
        );
        assert_eq!(run.status.code(), Some(2));
        assert!(text(&run.stderr).contains("--poll-interval \"soon\""));
    }

    #[test]
    fn c_example_is_clean_under_valgrind() {
        if !require("valgrind", "the valgrind run of the C example") {
            return;
        }
        let binary = build("img2video", &C_EXAMPLE);
        let out = output("c-example-valgrind.mp4");
        let run = run_to_end(
            without_vidu_env("valgrind")
                .args([
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect,possible",
                ])
                .args(["--error-exitcode=99", "--quiet"])
                .arg(binary)
                .args(["--provider", "umodelverse", "--image"])
                .arg(sample())
                .args(["--poll-interval", "0.05", "--output"])
                .arg(&out),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "valgrind:\n{stderr}");
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    }

    static ASAN_EXAMPLE: OnceLock<PathBuf> = OnceLock::new();

    #[test]
    fn c_example_is_clean_under_address_sanitizer() {
        if !require("gcc", "the AddressSanitizer build") {
            return;
        }
        let binary = build("img2video_asan", &ASAN_EXAMPLE);
        let out = output("c-example-asan.mp4");
        let run = run_to_end(
            without_vidu_env(binary)
                .env("ASAN_OPTIONS", "detect_leaks=1")
                .args(["--provider", "vidu", "--image"])
                .arg(sample())
                .args(["--poll-interval", "0.05", "--output"])
                .arg(&out),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "AddressSanitizer:\n{stderr}");
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    }

    static CPP_EXAMPLE: OnceLock<PathBuf> = OnceLock::new();

    #[test]
    fn cpp_example_generates_a_video() {
        if !require("c++", "the C++ example") {
            return;
        }
        let binary = build("img2video_cpp", &CPP_EXAMPLE);
        let out = output("cpp-example.mp4");
        let run = run_to_end(
            without_vidu_env(binary)
                .arg(sample())
                .arg(&out)
                .arg("vtrix"),
        );
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    }

    #[test]
    fn cpp_example_reports_a_failed_task_with_its_message() {
        if !require("c++", "the C++ example") {
            return;
        }
        let binary = build("img2video_cpp", &CPP_EXAMPLE);
        let out = output("cpp-example-fails.mp4");
        let run = run_to_end(
            without_vidu_env(binary)
                .env("VIDU_EMULATOR_SCENARIO", "task-fails")
                .arg(sample())
                .arg(&out)
                .arg("vidu"),
        );
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{stderr}");
        let error = stderr.lines().last().unwrap_or_default();
        let task_id = progress_task_id(&stderr);
        assert!(
            error.starts_with(&format!(
                "img2video_cpp: error: task {task_id} ended failed"
            )),
            "the real message, naming the task: {stderr:?}"
        );
        assert!(!out.exists(), "no file at the output path on failure");
    }
}
