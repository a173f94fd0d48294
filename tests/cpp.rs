//! The C++ wrapper's failure paths: tests/cpp/errors.cpp, built against the installed
//! vidu.hpp and libvidu.so, checks what a C++ user sees when a call fails
//! (code, message, task id, provider code) on the emulator, then runs again under valgrind
//! (when installed) with definite leaks and memory errors failing the test.
#![cfg(feature = "emulator")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::tools::{require, run_to_end, wrapped};
use vidu::emulator::{Emulator, EmulatorOptions, Scenario};

/// Compiles tests/cpp/errors.cpp once per run, linked to the installed libvidu.so.
fn errors_program() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        common::c_library::build_program(
            "c++",
            &[
                "-std=c++17",
                "-g",
                "-O1",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-pthread",
            ],
            "tests/cpp/errors.cpp",
            "cpp-errors-program",
        )
    })
}

/// Runs the program, under `wrapper` when given, in its own work directory, with an
/// official-API emulator for the remote cancel case; checks that the cancel reached it.
fn run_errors_program(wrapper: &[&str]) -> (Output, String, String) {
    let workdir = common::TempDir::new();
    let emu =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let out = run_to_end(
        wrapped(wrapper, errors_program())
            .arg(common::repo_file("examples/sample.png"))
            .arg(&*workdir)
            .arg(emu.base_url()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // One cancel of the task it submitted, one of an unknown task.
    assert_eq!(
        (emu.stats().submits, emu.stats().cancels),
        (1, 2),
        "remote cancel from C++ reaches the provider:\n{stdout}\n{stderr}"
    );
    (out, stdout, stderr)
}

/// Every case of errors.cpp, as it prints them when they pass.
const CASES: &[&str] = &[
    "ok unknown scenario: ",
    "ok client without api_key: ",
    "ok bad duration: ",
    "ok missing image: ",
    "ok failed task: ",
    "ok resume a failed task: ",
    "ok status of an unknown task: ",
    "ok timeout: ",
    "ok download of a running task: ",
    "ok polls failing at the deadline: ",
    "ok cancel token from another thread: ",
    "ok progress callback returns stop: ",
    "ok progress callback throws: ",
    "ok remote cancel on Vtrix: ",
    "ok remote cancel on Vidu: ",
    "ok remote cancel of an unknown task: ",
];

fn assert_every_case_passed(out: &Output, stdout: &str, stderr: &str) {
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for case in CASES {
        assert!(
            stdout.contains(case),
            "missing {case:?}:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stdout.contains("vidu error"), "{stdout}");
}

#[test]
fn cpp_errors_carry_code_message_and_task_id() {
    if !require("c++", "the C++ error tests") {
        return;
    }
    let (out, stdout, stderr) = run_errors_program(&[]);
    assert_every_case_passed(&out, &stdout, &stderr);
}

#[test]
fn cpp_errors_are_clean_under_valgrind() {
    if !require("c++", "the C++ error tests") || !require("valgrind", "the valgrind run of them") {
        return;
    }
    let (out, stdout, stderr) = run_errors_program(&[
        "valgrind",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--error-exitcode=99",
    ]);
    assert_ne!(
        out.status.code(),
        Some(99),
        "valgrind found errors:\n{stderr}"
    );
    assert_every_case_passed(&out, &stdout, &stderr);
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind:\n{stderr}"
    );
    let leak_free = ["definitely", "indirectly", "possibly"]
        .iter()
        .all(|kind| stderr.contains(&format!("{kind} lost: 0 bytes")));
    assert!(
        leak_free || stderr.contains("All heap blocks were freed"),
        "valgrind:\n{stderr}"
    );
}

/// Compiles tests/cpp/logging.cpp once per run, like errors.cpp.
fn logging_program() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        common::c_library::build_program(
            "c++",
            &[
                "-std=c++17",
                "-g",
                "-O1",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-pthread",
            ],
            "tests/cpp/logging.cpp",
            "cpp-logging-program",
        )
    })
}

const LOG_CASES: &[&str] = &[
    "ok records arrive\n",
    "ok a throwing callback does not escape\n",
    "ok off, and a bad level refused\n",
    "ok trust setters reach the C struct\n",
];

/// Runs logging.cpp (under `wrapper` when given); asserts that every case passed.
fn run_logging_program(wrapper: &[&str], workdir: &str) -> String {
    let workdir = common::temp_path(workdir);
    std::fs::create_dir_all(&workdir).unwrap();
    let out = run_to_end(
        wrapped(wrapper, logging_program())
            .arg(common::repo_file("examples/sample.png"))
            .arg(&workdir),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for case in LOG_CASES {
        assert!(
            stdout.contains(case),
            "missing {case:?}:\n{stdout}\n{stderr}"
        );
    }
    std::fs::remove_dir_all(&workdir).unwrap();
    stderr
}

#[test]
fn cpp_log_callback_gets_records_and_its_exceptions_stay_inside() {
    if !require("c++", "the C++ logging test") {
        return;
    }
    run_logging_program(&[], "cpp-logging");
}

#[test]
fn cpp_log_callback_is_clean_under_valgrind() {
    if !require("c++", "the C++ logging test") || !require("valgrind", "the valgrind run of it") {
        return;
    }
    let stderr = run_logging_program(
        &[
            "valgrind",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ],
        "cpp-logging-valgrind",
    );
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind:\n{stderr}"
    );
}
