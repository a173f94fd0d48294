//! The C ABI from several pthreads sharing one `vidu_client` (tests/c/threads.c): every call
//! returns, with the video or `VIDU_ERROR_CANCELLED` and its task id; also under valgrind's
//! helgrind and DRD, where any race report fails except the false positives of std's
//! futex-based locks, listed in tests/c/threads.supp (RELIABILITY.md, "Threads").
#![cfg(all(feature = "emulator", target_os = "linux"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::c_library;
use common::tools::{require, run_to_end};

use vidu::emulator::{Emulator, EmulatorOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles tests/c/threads.c against the installed library (`make -C examples/c install`,
/// once per test process: tests/common/c_library.rs).
fn threads_program() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        c_library::build_program(
            "cc",
            &[
                "-std=c99",
                "-g",
                "-O1",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-pthread",
            ],
            "tests/c/threads.c",
            "c-threads",
        )
    })
}

fn threads_command(emu: &Emulator, seed: u32, prefix: &[&str]) -> Command {
    let dir = common::scratch_dir();
    let (program, args) = match prefix.split_first() {
        Some((tool, rest)) => (PathBuf::from(tool), {
            let mut a: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            a.push(threads_program().display().to_string());
            a
        }),
        None => (threads_program().to_owned(), Vec::new()),
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg(emu.base_url())
        .arg(&dir)
        .arg(root().join("examples/sample.png"))
        .arg(seed.to_string());
    cmd
}

fn emulator() -> Emulator {
    Emulator::start_with(EmulatorOptions::new().api_key("test-key")).unwrap()
}

/// Every job ends as a video or a cancel carrying its task id: "failed 0", exit 0.
fn assert_all_accounted(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("failed 0"),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn pthreads_share_one_client_with_cancels() {
    let emu = emulator();
    for seed in [7, 42, 1234] {
        let out = run_to_end(&mut threads_command(&emu, seed, &[]));
        let summary = assert_all_accounted(&out);
        assert!(
            summary.contains("done ") && !summary.contains("done 0 "),
            "{summary}"
        );
    }
    assert_eq!(
        emu.stats().submits,
        3 * 8,
        "every job submitted exactly once"
    );
}

/// helgrind and DRD fail the run on any race report (`--error-exitcode`), except the known
/// false positives of std's futex-based locks listed in tests/c/threads.supp: a race in the C
/// program or in the C ABI's own code fails.
#[test]
fn pthreads_under_helgrind_and_drd() {
    if !require("valgrind", "helgrind and DRD") {
        return;
    }
    let emu = emulator();
    let suppressions = format!(
        "--suppressions={}",
        root().join("tests/c/threads.supp").display()
    );
    let tools = ["--tool=helgrind", "--tool=drd"];
    // Both at once: each is single-threaded under valgrind.
    let outs: Vec<Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = tools
            .iter()
            .map(|tool| {
                let cmd = threads_command(
                    &emu,
                    7,
                    &[
                        "valgrind",
                        tool,
                        "--error-exitcode=99",
                        // Deep enough to reach the frame a suppression names.
                        "--num-callers=50",
                        &suppressions,
                    ],
                );
                scope.spawn(move || run_to_end(&mut { cmd }))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let racy: Vec<String> = tools
        .iter()
        .zip(&outs)
        .filter(|(_, out)| out.status.code() == Some(99))
        .map(|(tool, out)| format!("{tool}:\n{}", String::from_utf8_lossy(&out.stderr)))
        .collect();
    assert!(
        racy.is_empty(),
        "race reports outside the listed false positives:\n{}",
        racy.join("\n")
    );
    for (tool, out) in tools.iter().zip(&outs) {
        assert_all_accounted(out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ERROR SUMMARY: 0 errors"),
            "{tool}:\n{stderr}"
        );
    }
}
