//! Programs the tests run: whether a tool is installed, a child run to its end under a
//! deadline, the example binaries.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when `tool` runs; otherwise says that the test skips `what`.
pub fn have(tool: &str, what: &str) -> bool {
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
pub fn run_to_end(cmd: &mut Command) -> Output {
    const DEADLINE: Duration = Duration::from_secs(180);
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
            buf
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish within {DEADLINE:?}; stderr so far:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// [`run_to_end`], failing the test unless `cmd` succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run_to_end(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `program` without the VIDU_* variables of the test's own environment, through which the
/// examples would pick a provider, key, URL or emulator scenario.
pub fn without_vidu_env(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "VIDU_API_KEY",
        "VIDU_BASE_URL",
        "VIDU_PROVIDER",
        "VIDU_EMULATOR_SCENARIO",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The Rust example `name`, without the VIDU_* variables (see [`without_vidu_env`]).
pub fn example(name: &str) -> Command {
    // Tests live in target/<profile>/deps; `cargo test` builds examples into
    // target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(Path::parent).unwrap();
    without_vidu_env(profile.join("examples").join(name))
}

/// `program`, run under `wrapper` (a tool and its arguments, e.g. valgrind) when one is given.
pub fn wrapped(wrapper: &[&str], program: &Path) -> Command {
    match wrapper.split_first() {
        Some((tool, args)) => {
            let mut cmd = Command::new(tool);
            cmd.args(args).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}
