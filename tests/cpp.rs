//! The C++ wrapper's failure paths: tests/cpp/errors.cpp, built against the installed
//! vidu.hpp and libvidu.so, checks what a C++ user sees when a call fails
//! (code, message, task id, provider code) on the emulator, then runs again under valgrind
//! (when installed) with definite leaks and memory errors failing the test.
#![cfg(feature = "emulator")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// True when `tool` runs; otherwise says that the test skips it.
fn have(tool: &str, what: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("NOTICE: {tool} is not installed: skipping {what}");
    }
    ok
}

/// Runs `cmd` to the end, killing it (and failing) after a deadline: a hung child must fail
/// the test, not hang it.
fn run_to_end(cmd: &mut Command) -> Output {
    const DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap().into_bytes(),
        stderr: stderr.join().unwrap().into_bytes(),
    }
}

/// Compiles tests/cpp/errors.cpp once per run, linked to the installed libvidu.so.
fn errors_program() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let prefix = common::c_library::prefix();
        let lib = prefix.join("lib");
        let binary = common::temp_path("cpp-errors-program");
        let out = run_to_end(
            Command::new("c++")
                .args([
                    "-std=c++17",
                    "-g",
                    "-O1",
                    "-Wall",
                    "-Wextra",
                    "-pedantic",
                    "-Werror",
                ])
                .arg("-I")
                .arg(prefix.join("include"))
                .arg(common::repo_file("tests/cpp/errors.cpp"))
                .arg("-o")
                .arg(&binary)
                .arg(format!("-L{}", lib.display()))
                .arg("-lvidu")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-pthread"),
        );
        assert!(
            out.status.success(),
            "compiling tests/cpp/errors.cpp:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        binary
    })
}

/// Runs the program, under `wrapper` when given, in its own work directory.
fn run_errors_program(wrapper: &[&str], workdir: &str) -> (Output, String, String) {
    let workdir = common::temp_path(workdir);
    std::fs::create_dir_all(&workdir).unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((tool, args)) => {
            let mut cmd = Command::new(tool);
            cmd.args(args).arg(errors_program());
            cmd
        }
        None => Command::new(errors_program()),
    };
    let out = run_to_end(
        cmd.arg(common::repo_file("examples/sample.png"))
            .arg(&workdir),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
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
    "ok cancel token from another thread: ",
    "ok progress callback returns stop: ",
    "ok progress callback throws: ",
    "ok remote cancel on Vtrix: ",
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
    if !have("c++", "the C++ error tests") {
        return;
    }
    let (out, stdout, stderr) = run_errors_program(&[], "cpp-errors");
    assert_every_case_passed(&out, &stdout, &stderr);
}

#[test]
fn cpp_errors_are_clean_under_valgrind() {
    if !have("c++", "the C++ error tests") || !have("valgrind", "the valgrind run of them") {
        return;
    }
    let (out, stdout, stderr) = run_errors_program(
        &[
            "valgrind",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ],
        "cpp-errors-valgrind",
    );
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
    assert!(
        stderr.contains("definitely lost: 0 bytes")
            || stderr.contains("All heap blocks were freed"),
        "valgrind:\n{stderr}"
    );
}
