//! The batch CLI's contract (flags, exit codes, one line per video, the summary) and the
//! journal's promise across process deaths: killed with SIGKILL or stopped with Ctrl-C, a rerun of
//! the same command finishes the batch with exactly one task per job. Also Ctrl-C and
//! `--journal` in img2video.
#![cfg(all(feature = "emulator", unix))]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::emulated::failing_prompts;
use common::tools::example;
use vidu::emulator::{Emulator, EmulatorOptions};

/// A folder with the sample image and a jobs file of `n` lines writing `<i>.mp4`.
fn jobs_dir(name: &str, n: usize) -> (PathBuf, PathBuf) {
    let dir = common::scratch_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        common::repo_file("examples/sample.png"),
        dir.join("cat.png"),
    )
    .unwrap();
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"image\": \"cat.png\", \"output\": \"{i}.mp4\", \"prompt\": \"job {i}\"}}\n\n"
            )
        })
        .collect();
    let jobs = dir.join("jobs.jsonl");
    std::fs::write(&jobs, lines).unwrap();
    (dir, jobs)
}

fn batch_args<'a>(jobs: &'a Path, out: &'a Path, provider: &'a str) -> Vec<String> {
    vec![
        "--provider".into(),
        provider.into(),
        "--jobs".into(),
        jobs.display().to_string(),
        "--out-dir".into(),
        out.display().to_string(),
        "--poll-interval".into(),
        "0.05".into(),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_outputs(out: &Path, n: usize, expected: &[u8]) {
    for i in 0..n {
        let got = std::fs::read(out.join(format!("{i}.mp4"))).unwrap();
        assert!(
            got == expected,
            "output {i} is not byte-exact ({} bytes)",
            got.len()
        );
    }
}

/// A child whose stderr is collected while it runs.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Running { child, stderr }
    }

    /// Waits (at most 30 s) until `ready` holds.
    fn until(&self, what: &str, mut ready: impl FnMut(&str) -> bool) {
        let start = Instant::now();
        while !ready(&self.stderr.lock().unwrap()) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never saw {what}: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn finish(mut self) -> (ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stdout, stderr)
    }
}

#[test]
fn batch_writes_every_video_offline_and_sums_up() {
    let (dir, jobs) = jobs_dir("batch-cli-ok", 4);
    let out = dir.join("out");
    let o: Output = example("batch")
        .args(batch_args(&jobs, &out, "vidu"))
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(": wrote ")).count(),
        4,
        "{stdout}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("4 written, 0 failed, 0 uncertain"),
        "{stderr}"
    );
    assert!(
        out.join(".vidu-journal.jsonl").exists(),
        "the journal is on by default"
    );
    assert_outputs(&out, 4, Emulator::video_bytes());
}

#[test]
fn a_bad_line_exits_2_naming_the_line_and_the_key() {
    let (dir, jobs) = jobs_dir("batch-cli-bad", 3);
    for (line, key) in [
        (
            r#"{"image": "cat.png", "output": "x.mp4", "colour": "red"}"#,
            "colour",
        ),
        (
            r#"{"image": "cat.png", "output": "x.mp4", "duration": 99}"#,
            "duration",
        ),
        (r#"{"image": "cat.png", "output": "../x.mp4"}"#, "output"),
    ] {
        let mut text_ = std::fs::read_to_string(&jobs).unwrap();
        text_.push_str(line);
        let bad = dir.join("bad.jsonl");
        std::fs::write(&bad, text_).unwrap();
        let out = dir.join("bad-out");
        let o = example("batch")
            .args(batch_args(&bad, &out, "vtrix"))
            .output()
            .unwrap();
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("line 7") && stderr.contains(key),
            "{key}: {stderr}"
        );
        assert!(!out.join("0.mp4").exists(), "nothing was run");
    }
}

#[test]
fn a_failed_job_exits_3_listing_it_with_its_task_id() {
    let emulator = failing_prompts("job 1");
    let (dir, jobs) = jobs_dir("batch-cli-fail", 3);
    let out = dir.join("out");
    let o = example("batch")
        .args(batch_args(&jobs, &out, "umodelverse"))
        .args(["--base-url", &emulator.base_url(), "--api-key", "k"])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("failed: ") && stderr.contains("line 3") && stderr.contains("task "),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("2 written, 1 failed, 0 uncertain"),
        "{stderr}"
    );
}

/// The batch CLI killed with SIGKILL once `killed_when` holds, then rerun: every output is
/// byte-exact and the emulator counted one submit per job.
fn killed_and_rerun(
    name: &str,
    options: EmulatorOptions,
    killed_when: impl Fn(&Emulator, &Path) -> bool,
) {
    let n = 6;
    let emulator = Emulator::start_with(options).unwrap();
    let (dir, jobs) = jobs_dir(name, n);
    let out = dir.join("out");
    let command = || {
        let mut cmd = example("batch");
        cmd.args(batch_args(&jobs, &out, "vidu")).args([
            "--base-url",
            &emulator.base_url(),
            "--api-key",
            "k",
            "--concurrency",
            "2",
        ]);
        cmd
    };
    let run = Running::start(command());
    let start = Instant::now();
    while !killed_when(&emulator, &out) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name}: the moment to kill never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    run.signal("-KILL");
    let (status, _, _) = run.finish();
    assert_eq!(status.code(), None, "killed by a signal");
    let submitted = emulator.stats().submits;
    assert!(
        submitted >= 1 && submitted < n as u32,
        "{name}: killed mid-run ({submitted} submits)"
    );

    let o = command().output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
    let expected: Vec<u8> = match emulator.options().video_size {
        Some(len) => (0..len).map(Emulator::synthetic_video_byte).collect(),
        None => Emulator::video_bytes().to_vec(),
    };
    assert_outputs(&out, n, &expected);
    assert_eq!(
        emulator.stats().submits,
        n as u32,
        "{name}: exactly one submit per job"
    );
}

#[test]
fn killed_after_some_submits_a_rerun_finishes_without_paying_twice() {
    killed_and_rerun(
        "batch-cli-kill-submits",
        EmulatorOptions::new().state_duration(Duration::from_millis(300)),
        |emulator, _| emulator.stats().submits >= 2,
    );
}

#[test]
fn killed_mid_download_a_rerun_finishes_without_paying_twice() {
    killed_and_rerun(
        "batch-cli-kill-download",
        EmulatorOptions::new().video_size(48 << 20),
        |_, out| {
            std::fs::read_dir(out).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)
                })
            })
        },
    );
}

#[test]
fn ctrl_c_stops_the_batch_with_exit_130_and_a_rerun_resumes() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(1_000_000)).unwrap();
    let (dir, jobs) = jobs_dir("batch-cli-ctrl-c", 2);
    let out = dir.join("out");
    let mut cmd = example("batch");
    cmd.args(batch_args(&jobs, &out, "vtrix")).args([
        "--base-url",
        &emulator.base_url(),
        "--api-key",
        "k",
    ]);
    let run = Running::start(cmd);
    let start = Instant::now();
    while emulator.stats().submits < 2 {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    run.signal("-INT");
    let (status, _, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("unfinished") && stderr.contains("task "),
        "{stderr}"
    );
    assert!(stderr.contains("rerun"), "{stderr}");
}

#[test]
fn ctrl_c_in_img2video_exits_130_naming_the_task_and_how_to_resume() {
    let out = common::scratch_dir().join("ctrl-c.mp4");
    let mut cmd = example("img2video");
    cmd.args([
        "--provider",
        "vidu",
        "--image",
        "examples/sample.png",
        "--poll-interval",
        "0.05",
    ])
    .arg("--output")
    .arg(&out)
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .env("VIDU_EMULATOR_SCENARIO", "never-finishes");
    let run = Running::start(cmd);
    run.until("a progress line", |s| s.contains("\rtask "));
    run.signal("-INT");
    let (status, _, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let last = stderr
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(last.contains("--task-id "), "{last}");
    assert!(!out.exists(), "nothing at --output");
}

#[test]
fn img2video_with_a_journal_picks_up_its_task_after_a_kill() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(3)).unwrap();
    let dir = common::scratch_dir();
    let out = dir.join("journaled.mp4");
    let journal = dir.join("img2video.journal");
    let command = || {
        let mut cmd = example("img2video");
        cmd.args([
            "--provider",
            "umodelverse",
            "--image",
            "examples/sample.png",
        ])
        .args([
            "--poll-interval",
            "0.02",
            "--api-key",
            "k",
            "--base-url",
            &emulator.base_url(),
        ])
        .arg("--journal")
        .arg(&journal)
        .arg("--output")
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        cmd
    };
    let run = Running::start(command());
    run.until("a progress line", |s| s.contains("\rtask "));
    run.signal("-KILL");
    run.finish();
    assert_eq!(emulator.stats().submits, 1);
    let o = command().output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    assert_eq!(emulator.stats().submits, 1, "the rerun paid nothing");
}
