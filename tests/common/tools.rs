//! Programs the tests run: whether a tool is installed, a child run to its end under a
//! deadline, the example binaries.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The variable that lets a run go without some tools: `VIDU_SKIP_TOOLS=cmake,valgrind` (or
/// `all`). CI never sets it (`.ci/run` installs every tool and refuses it).
pub const SKIP_VAR: &str = "VIDU_SKIP_TOOLS";

/// True when `tool` runs (`tool --version` succeeds). When it does not, the test fails, unless
/// [`SKIP_VAR`] names the tool: then the skip of `what` is printed and false is returned.
pub fn require(tool: &str, what: &str) -> bool {
    let runs = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    runs || skipped(tool, what, &format!("{tool} is not installed (install it)"))
}

/// True when this process runs as root (the tests that need a device node, for example).
/// Otherwise like [`require`]: fails unless [`SKIP_VAR`] names `root`.
#[cfg(unix)]
pub fn require_root(what: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root || skipped(
        "root",
        what,
        "the test does not run as root (run it as root)",
    )
}

/// Fails the test unless `tool` is listed in [`SKIP_VAR`]; when it is, says so where the
/// test harness cannot hide it and returns false.
fn skipped(tool: &str, what: &str, why: &str) -> bool {
    let listed = std::env::var(SKIP_VAR).is_ok_and(|list| {
        list.split(',')
            .map(str::trim)
            .any(|t| t == tool || t == "all")
    });
    if !listed {
        panic!("{why}: cannot run {what}; or set {SKIP_VAR}={tool} to skip it");
    }
    // libtest captures print!/eprint! of passing tests; a direct write to stderr shows in
    // every run, without --nocapture.
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {what} ({why}; {SKIP_VAR} names {tool})"
    );
    false
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
