//! `vidu batch`, run as the built binary: flags, exit codes, one stdout line per video, the
//! summary, bad lines, CSV input, --dry-run, and the journal's promise across process deaths:
//! killed with SIGKILL or stopped with Ctrl-C, a rerun of the same command finishes the batch
//! with exactly one submit per job, counted at the emulator.
#![cfg(all(feature = "emulator", unix))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{assert_plain, last_line, run, sample_png, task_ids_in, text, vidu, Running, Scratch};
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Scenario};
use vidu::State;

/// A folder with the sample image and a jobs file of `n` jobs writing `<i>.mp4`, blank lines
/// between them.
fn jobs_dir(n: usize) -> (Scratch, PathBuf) {
    let dir = Scratch::new();
    std::fs::copy(sample_png(), dir.join("cat.png")).unwrap();
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

fn batch(jobs: &Path, out: &Path, provider: &str) -> Command {
    let mut cmd = vidu();
    cmd.args(["batch", "--provider", provider, "--jobs"])
        .arg(jobs)
        .arg("--out-dir")
        .arg(out)
        .args(["--poll-interval", "0.05"]);
    cmd
}

fn against(mut cmd: Command, emulator: &Emulator) -> Command {
    cmd.args(["--base-url", &emulator.base_url(), "--api-key", "k"]);
    cmd
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

#[test]
fn batch_writes_every_video_and_a_rerun_says_already_written() {
    let emulator = Emulator::start().unwrap();
    let (dir, jobs) = jobs_dir(4);
    let out = dir.join("out");
    // A deadline that is not reached changes nothing.
    let o = run(against(batch(&jobs, &out, "vidu"), &emulator).args(["--timeout", "60"]));
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let mut ids = task_ids_in(&emulator, State::Succeeded);
    ids.sort();
    let mut written: Vec<String> = stdout
        .lines()
        .map(|l| {
            let (id, path) = l
                .strip_prefix("task ")
                .and_then(|l| l.split_once(": wrote "))
                .unwrap_or_else(|| panic!("{stdout}"));
            assert!(path.starts_with(&out.display().to_string()), "{l}");
            id.to_owned()
        })
        .collect();
    written.sort();
    assert_eq!(
        written, ids,
        "one stdout line per video, with the real task ids"
    );
    assert_eq!(last_line(&stderr), "vidu: 4 written, 0 failed, 0 uncertain");
    assert_plain("stderr", &stderr);
    // Not a terminal: one plain progress line per finished job, nothing about resuming.
    let progress: Vec<&str> = stderr.lines().filter(|l| l.contains(" queued, ")).collect();
    assert_eq!(progress.len(), 4, "{stderr}");
    assert!(
        progress[3].starts_with("vidu: 4 written, 0 failed, 0 running, 0 queued, "),
        "{stderr}"
    );
    assert!(!stderr.contains("resuming"), "{stderr}");
    assert!(
        out.join(".vidu-journal.jsonl").exists(),
        "the journal is on by default"
    );
    assert_outputs(&out, 4, Emulator::video_bytes());

    let o = run(&mut against(batch(&jobs, &out, "vidu"), &emulator));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stderr),
        "vidu: 4 already written, 0 failed, 0 uncertain\n"
    );
    assert_eq!(text(&o.stdout), "");
    assert_eq!(emulator.stats().submits, 4, "the rerun paid nothing");
}

#[test]
fn a_bad_line_exits_2_naming_the_line_and_the_key_once_without_the_usage() {
    let (dir, jobs) = jobs_dir(3);
    for (line, says) in [
        (
            r#"{"image": "cat.png", "output": "x.mp4", "colour": "red"}"#,
            "line 7: column 48: unknown field `colour`",
        ),
        (
            r#"{"image": "cat.png", "output": "x.mp4", "duration": 99}"#,
            "line 7: invalid duration \"99\"",
        ),
        (
            r#"{"image": "cat.png", "output": "../x.mp4"}"#,
            "line 7: output \"../x.mp4\": expected a file name inside --out-dir",
        ),
        (
            r#"{"image": "cat.png", "output": "a.gif"}"#,
            "line 7: output \"a.gif\": expected a file name ending in .mp4",
        ),
        (
            r#"{"image": "cat.png", "output": "x.mp4", "seed": 4}"#,
            "line 7: invalid seed \"4\": vtrix does not take seed; leave it unset",
        ),
    ] {
        let mut text_ = std::fs::read_to_string(&jobs).unwrap();
        text_.push_str(line);
        let bad = dir.join("bad.jsonl");
        std::fs::write(&bad, text_).unwrap();
        let out = dir.join("bad-out");
        let o = run(&mut batch(&bad, &out, "vtrix"));
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line, no usage: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert_eq!(
            stderr.matches("line ").count(),
            1,
            "the line is named once: {stderr}"
        );
        assert!(!out.join("0.mp4").exists(), "nothing was run");
    }
}

#[test]
fn two_lines_writing_one_output_exit_2_naming_both_and_send_nothing() {
    let emulator = Emulator::start().unwrap();
    let second = "a.mp4"; // the CLI refuses other spellings ("./a.mp4") as not a plain name
    let (dir, _) = jobs_dir(0);
    let jobs = dir.join("dup.jsonl");
    std::fs::write(
        &jobs,
        format!(
            "{{\"image\": \"cat.png\", \"output\": \"a.mp4\"}}\n\
             {{\"image\": \"cat.png\", \"output\": \"b.mp4\"}}\n\
             {{\"image\": \"cat.png\", \"output\": \"{second}\", \"prompt\": \"other\"}}\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let o = run(&mut against(batch(&jobs, &out, "vidu"), &emulator));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{second}: {stderr}");
    let last = last_line(&stderr);
    assert!(
        last.contains("line 1") && last.contains("line 3"),
        "{second}: names both lines: {stderr}"
    );
    assert!(!out.join("a.mp4").exists());
    assert_eq!(emulator.stats().api_connections, 0, "nothing was sent");
}

#[test]
fn a_failed_job_exits_3_listing_it_with_its_real_task_id() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::tasks()
                .prompt_contains("job 1")
                .effect(Effect::FailTask),
        ),
    )
    .unwrap();
    let (dir, jobs) = jobs_dir(3);
    let out = dir.join("out");
    let o = run(&mut against(batch(&jobs, &out, "vidu"), &emulator));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let failed = task_ids_in(&emulator, State::Failed);
    assert_eq!(failed.len(), 1);
    let name = jobs.display().to_string();
    assert!(
        stderr.contains(&format!(
            "vidu: failed: {name} line 3: task {} ended failed",
            failed[0]
        )),
        "{stderr}"
    );
    assert_eq!(last_line(&stderr), "vidu: 2 written, 1 failed, 0 uncertain");
}

#[test]
fn a_csv_of_prompts_is_a_jobs_file() {
    let emulator = Emulator::start().unwrap();
    let dir = Scratch::new();
    std::fs::copy(sample_png(), dir.join("cat.png")).unwrap();
    let csv = dir.join("prompts.csv");
    std::fs::write(
        &csv,
        "image,output,prompt,duration\ncat.png,a.mp4,\"the cat, \"\"smiling\"\"\",5\ncat.png,b.mp4,,\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = run(vidu()
        .args(["batch", "--provider", "vidu", "--csv"])
        .arg(&csv)
        .arg("--out-dir")
        .arg(&out)
        .args([
            "--concurrency",
            "1",
            "--poll-interval",
            "0.05",
            "--base-url",
            &emulator.base_url(),
            "--api-key",
            "k",
        ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(emulator.stats().submits, 2);
    for name in ["a.mp4", "b.mp4"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            Emulator::video_bytes()
        );
    }
    // One job at a time: the last submit is row 2's, without a prompt.
    let last = emulator.stats().last_submit.unwrap();
    assert!(last.json.get("prompt").is_none(), "{}", last.json);
}

#[test]
fn dry_run_prints_every_request_and_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    let (dir, jobs) = jobs_dir(3);
    let out = dir.join("out");
    let o = run(against(batch(&jobs, &out, "vidu"), &emulator).arg("--dry-run"));
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        stdout
            .matches(&format!("POST {}/ent/v2/img2video\n", emulator.base_url()))
            .count(),
        3,
        "{stdout}"
    );
    assert!(stdout.contains("\"prompt\":\"job 2\""), "{stdout}");
    let stats = emulator.stats();
    assert_eq!((stats.api_connections, stats.submit_requests), (0, 0));
    assert!(!out.exists(), "nothing written, not even the journal");
}

/// Looks at `ready` every few milliseconds until it holds (at most 60 s): the emulator's counters
/// and the output folder have no event to wait on.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never came"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The batch killed with SIGKILL once `killed_when` holds, then rerun: every output is
/// byte-exact and the emulator counted one submit per job.
fn killed_and_rerun(options: EmulatorOptions, killed_when: impl Fn(&Emulator, &Path) -> bool) {
    let n = 6;
    let emulator = Emulator::start_with(options).unwrap();
    let (dir, jobs) = jobs_dir(n);
    let out = dir.join("out");
    let command = || {
        let mut cmd = against(batch(&jobs, &out, "vidu"), &emulator);
        // A kill between a submit's intent and its send leaves a job the rerun must search
        // for until the window ends before it may submit again: the emulator's list does not
        // lag, so 3 s proves it as well as the default 120 s.
        cmd.args(["--concurrency", "2", "--search-window", "3"]);
        cmd
    };
    let run = Running::start(&mut command());
    wait_for("the moment to kill", || killed_when(&emulator, &out));
    run.signal("-KILL");
    let (status, _, _) = run.finish();
    assert_eq!(status.code(), None, "killed by a signal");
    let submitted = emulator.stats().submits;
    assert!(
        submitted >= 1 && submitted < n as u32,
        "killed mid-run ({submitted} submits)"
    );

    let o = command().output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let expected: Vec<u8> = match emulator.options().video_size {
        Some(len) => (0..len).map(Emulator::synthetic_video_byte).collect(),
        None => Emulator::video_bytes().to_vec(),
    };
    assert_outputs(&out, n, &expected);
    assert_eq!(
        emulator.stats().submits,
        n as u32,
        "exactly one submit per job"
    );
}

#[test]
fn killed_after_some_submits_a_rerun_finishes_without_paying_twice() {
    killed_and_rerun(
        EmulatorOptions::new().state_duration(Duration::from_millis(300)),
        |emulator, _| emulator.stats().submits >= 2,
    );
}

#[test]
fn killed_mid_download_a_rerun_finishes_without_paying_twice() {
    killed_and_rerun(EmulatorOptions::new().video_size(48 << 20), |_, out| {
        std::fs::read_dir(out).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        })
    });
}

#[test]
fn ctrl_c_exits_130_and_a_rerun_resumes_without_paying_again() {
    // Tasks take seconds: the first run is stopped long before one ends (the SIGINT follows
    // the second submit by milliseconds), and the rerun does not wait long.
    let emulator =
        Emulator::start_with(EmulatorOptions::new().state_duration(Duration::from_millis(1500)))
            .unwrap();
    let (dir, jobs) = jobs_dir(2);
    let out = dir.join("out");
    let first = Running::start(&mut against(batch(&jobs, &out, "vidu"), &emulator));
    wait_for("two submits", || emulator.stats().submits >= 2);
    first.signal("-INT");
    let (status, _, stderr) = first.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let mut ids = task_ids_in(&emulator, State::Queued);
    ids.extend(task_ids_in(&emulator, State::Running));
    assert_eq!(ids.len(), 2, "two tasks under way: {stderr}");
    for id in &ids {
        assert!(
            stderr.contains(&format!(": task {id}\n")),
            "unfinished {id} named: {stderr}"
        );
    }
    assert!(
        last_line(&stderr).ends_with("2 unfinished; rerun the same command to resume"),
        "{stderr}"
    );

    // The same journal for another provider is refused, and nothing is announced.
    let o = run(&mut against(batch(&jobs, &out, "umodelverse"), &emulator));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("resuming"), "{}", text(&o.stderr));

    let o = run(&mut against(batch(&jobs, &out, "vidu"), &emulator));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.starts_with("vidu: resuming 2 tasks from the journal "),
        "{stderr}"
    );
    assert_outputs(&out, 2, Emulator::video_bytes());
    assert_eq!(
        emulator.stats().submits,
        2,
        "the rerun paid for nothing new"
    );
    assert_eq!(last_line(&stderr), "vidu: 2 written, 0 failed, 0 uncertain");
}

#[test]
fn a_deadline_exits_4_naming_each_unfinished_task_and_an_uncertain_submit_exits_1() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let (dir, jobs) = jobs_dir(2);
    let out = dir.join("out");
    let o = run(against(batch(&jobs, &out, "vidu"), &emulator).args(["--timeout", "0.5"]));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{stderr}");
    let ids = task_ids_in(&emulator, State::Running);
    assert_eq!(ids.len(), 2, "{stderr}");
    for id in &ids {
        assert!(
            stderr.contains(&format!(": task {id}\n")),
            "unfinished {id} named: {stderr}"
        );
    }
    assert_eq!(
        last_line(&stderr),
        "vidu: 0 written, 0 failed, 0 uncertain, 2 unfinished; rerun the same command to resume"
    );

    // A gateway cannot list tasks: a submit whose answer was lost stays uncertain.
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::ResetAfterSubmit)).unwrap();
    let (dir, jobs) = jobs_dir(1);
    let out = dir.join("out");
    let o = run(&mut against(batch(&jobs, &out, "vtrix"), &emulator));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let name = jobs.display().to_string();
    assert!(
        stderr.contains(&format!("vidu: uncertain: {name} line 1: ")),
        "{stderr}"
    );
    assert_eq!(last_line(&stderr), "vidu: 0 written, 0 failed, 1 uncertain");
    assert_eq!(emulator.stats().submits, 1, "not sent again");
}

#[test]
fn downloads_and_submits_set_the_threads_and_a_value_out_of_range_exits_2() {
    let emulator = Emulator::start().unwrap();
    let (dir, jobs) = jobs_dir(3);
    let out = dir.join("out");
    for flag in ["--downloads", "--submits"] {
        for bad in ["0", "65"] {
            let o = run(against(batch(&jobs, &out, "vidu"), &emulator).args([flag, bad]));
            let stderr = text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{flag} {bad}: {stderr}");
            assert!(
                stderr.contains(flag) && stderr.contains("1..=64"),
                "{stderr}"
            );
        }
    }
    assert_eq!(emulator.stats().submits, 0, "nothing sent");
    let o = run(against(batch(&jobs, &out, "vidu"), &emulator).args([
        "--downloads",
        "1",
        "--submits",
        "2",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        last_line(&text(&o.stderr)),
        "vidu: 3 written, 0 failed, 0 uncertain"
    );
    assert_eq!(emulator.stats().submits, 3);
}

#[test]
fn a_csv_batch_with_a_failed_row_and_its_rerun_name_the_row_and_send_nothing_again() {
    let emulator = Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::tasks()
                .prompt_contains("job 1")
                .effect(Effect::FailTask),
        ),
    )
    .unwrap();
    let dir = Scratch::new();
    std::fs::copy(sample_png(), dir.join("cat.png")).unwrap();
    let csv = dir.join("jobs.csv");
    // Row 1's prompt holds a newline: row 2 (the one that fails) starts on line 4.
    std::fs::write(
        &csv,
        "image,output,prompt\ncat.png,0.mp4,\"job 0,\nin two lines\"\ncat.png,1.mp4,job 1\n\
         cat.png,2.mp4,job 2\n",
    )
    .unwrap();
    let out = dir.join("out");
    let command = || {
        let mut cmd = vidu();
        cmd.args(["batch", "--provider", "vidu", "--csv"])
            .arg(&csv)
            .arg("--out-dir")
            .arg(&out)
            .args(["--poll-interval", "0.05"]);
        against(cmd, &emulator)
    };
    let o = run(&mut command());
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let failed = task_ids_in(&emulator, State::Failed);
    assert_eq!(failed.len(), 1, "{stderr}");
    let says = format!(
        "vidu: failed: {} line 4: task {} ended failed",
        csv.display(),
        failed[0]
    );
    assert!(stderr.contains(&says), "{stderr}");
    assert_eq!(last_line(&stderr), "vidu: 2 written, 1 failed, 0 uncertain");
    assert_eq!(text(&o.stdout).lines().count(), 2);
    for name in ["0.mp4", "2.mp4"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            Emulator::video_bytes()
        );
    }
    assert_eq!(emulator.stats().submits, 3);

    // The rerun: the journal says how every row ended; the failed one is listed again.
    let o = run(&mut command());
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "no progress lines: {stderr}");
    assert!(lines[0].starts_with(&says), "{stderr}");
    assert_eq!(lines[1], "vidu: 2 already written, 1 failed, 0 uncertain");
    assert_eq!(text(&o.stdout), "");
    assert_eq!(emulator.stats().submits, 3, "the rerun paid nothing");
}
