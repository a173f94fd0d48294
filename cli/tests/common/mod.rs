//! What the tests of the `vidu` binary share: the binary, scratch folders that are removed, a
//! child whose stderr is read while it runs, and the task ids the emulator really created.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use vidu::emulator::Emulator;
use vidu::{Client, Config, Provider, TaskQuery};

/// The built `vidu`, without the VIDU_* and RUST_LOG variables of the test's own environment.
pub fn vidu() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vidu"));
    for var in [
        "VIDU_API_KEY",
        "VIDU_BASE_URL",
        "VIDU_PROVIDER",
        "VIDU_EMULATOR_SCENARIO",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// `vidu` run to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// The repository's sample image (256x192 PNG).
pub fn sample_png() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample.png")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A folder of its own, removed with everything in it when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vidu-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The ids of the tasks `emulator` created on the official API, asked through its task list:
/// what the CLI should name.
pub fn task_ids(emulator: &Emulator) -> Vec<String> {
    let config = Config::new(Provider::Vidu, "k").base_url(emulator.base_url());
    let page = Client::new(config)
        .unwrap()
        .tasks(&TaskQuery::new().page_size(100))
        .unwrap();
    let mut ids: Vec<String> = page.tasks.into_iter().map(|t| t.task_id).collect();
    ids.sort();
    ids
}

/// The ids of `emulator`'s tasks in `state`.
pub fn task_ids_in(emulator: &Emulator, state: vidu::State) -> Vec<String> {
    let config = Config::new(Provider::Vidu, "k").base_url(emulator.base_url());
    let page = Client::new(config)
        .unwrap()
        .tasks(&TaskQuery::new().page_size(100))
        .unwrap();
    page.tasks
        .into_iter()
        .filter(|t| t.state == state)
        .map(|t| t.task_id)
        .collect()
}

/// No carriage return, escape sequence or other control character but the newline.
pub fn assert_plain(what: &str, s: &str) {
    let bad: Vec<char> = s.chars().filter(|c| c.is_control() && *c != '\n').collect();
    assert!(
        bad.is_empty(),
        "{what} holds control characters {bad:?}:\n{s}"
    );
}

/// A child whose stderr lines arrive on a channel while it runs.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    pub fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            reader,
        }
    }

    /// Waits (at most 60 s) for a stderr line for which `ready` holds, and returns it.
    pub fn until(&mut self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if ready(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("never saw {what} ({e}): {}", self.seen.join("\n")),
            }
        }
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the end: the status, stdout and the whole of stderr.
    pub fn finish(mut self) -> (ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.reader.join().unwrap();
        self.seen.extend(self.lines.try_iter());
        let mut stderr = self.seen.join("\n");
        stderr.push('\n');
        (status, stdout, stderr)
    }
}

/// The last line of `s`.
pub fn last_line(s: &str) -> &str {
    s.trim_end().lines().last().unwrap_or_default()
}
