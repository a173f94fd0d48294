//! The C ABI from several pthreads sharing one `vidu_client` (tests/c/threads.c): every call
//! returns, with the video or `VIDU_ERROR_CANCELLED` and its task id; also under valgrind's
//! helgrind and DRD when installed. Those tools do not see the futex-based locks of Rust's std
//! (Mutex, Once, channels), so they report "possible races" inside std, ureq and the pool
//! (RELIABILITY.md, "Threads"); what is asserted under them is that the program still works
//! and that no report starts in the C program's own code.
#![cfg(all(feature = "emulator", target_os = "linux"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use vidu::emulator::{Emulator, EmulatorOptions};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles tests/c/threads.c against the installed library (`make -C examples/c install`,
/// once per test process: tests/common/c_library.rs). The one place that knows how the
/// program is linked.
fn threads_program() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let prefix = common::c_library::prefix();
        let (include, lib) = (prefix.join("include"), prefix.join("lib"));
        let out = common::temp_path("c-threads");
        let status = Command::new("cc")
            .args([
                "-std=c99",
                "-g",
                "-O1",
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
            ])
            .arg(format!("-I{}", include.display()))
            .arg(root().join("tests/c/threads.c"))
            .arg("-o")
            .arg(&out)
            .arg(format!("-L{}", lib.display()))
            .arg("-lvidu")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .status()
            .expect("cc runs");
        assert!(status.success(), "compiling tests/c/threads.c failed");
        out
    })
}

/// Runs `cmd`, killing it (and failing) after two minutes: a deadlock fails, never hangs. The
/// pipes are drained while it runs (valgrind writes megabytes).
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{cmd:?} did not finish: a deadlock or a wait that never returns");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
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
        let out = run(&mut threads_command(&emu, seed, &[]));
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

#[test]
fn pthreads_under_helgrind_and_drd() {
    let have_valgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_valgrind {
        eprintln!("NOTICE: valgrind is not installed: skipping helgrind and DRD");
        return;
    }
    let emu = emulator();
    for (tool, report) in [
        ("--tool=helgrind", "Possible data race"),
        ("--tool=drd", "Conflicting"),
    ] {
        let out = run(&mut threads_command(&emu, 7, &["valgrind", tool]));
        assert_all_accounted(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Reports are blocks of `==pid== ` lines separated by an empty one.
        let mut blocks = vec![String::new()];
        for line in stderr.lines() {
            let text = line.splitn(3, "==").nth(2).unwrap_or(line).trim();
            if text.is_empty() {
                blocks.push(String::new());
            } else {
                let block = blocks.last_mut().unwrap();
                block.push_str(text);
                block.push('\n');
            }
        }
        let reports: Vec<&String> = blocks.iter().filter(|b| b.contains(report)).collect();
        // The first frame of a report is where the racing access is.
        let in_c_code = reports
            .iter()
            .filter(|r| {
                r.lines()
                    .find(|l| l.starts_with("at 0x"))
                    .is_some_and(|l| l.contains("threads.c"))
            })
            .count();
        eprintln!(
            "NOTICE: valgrind {tool}: {} report blocks ({in_c_code} in threads.c); the others \
             are in std/ureq code synchronised by futex locks the tool cannot see",
            reports.len()
        );
        assert_eq!(
            in_c_code, 0,
            "{tool} reports a race in the C program:\n{stderr}"
        );
    }
}
