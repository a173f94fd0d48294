//! `vidu img2video` (and the flags every subcommand shares), run as the built binary: the
//! offline quickstart, exit codes, one error line naming the real task id, the resume command,
//! --dry-run sending nothing, Ctrl-C, logging, and stderr without control characters when it is
//! not a terminal.
#![cfg(feature = "emulator")]

mod common;

use std::path::Path;
use std::process::Output;

use common::{assert_plain, last_line, run, sample_png, task_ids, text, vidu, Running, Scratch};
use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route, Scenario};

/// img2video on `provider` and the sample image, polling fast, writing to `out`.
fn img2video(provider: &str, out: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = vidu();
    cmd.args(["img2video", "--provider", provider, "--image"])
        .arg(sample_png())
        .args(["--poll-interval", "0.05", "--output"])
        .arg(out)
        .args(extra);
    cmd
}

fn against(emulator: &Emulator) -> [String; 4] {
    [
        "--base-url".into(),
        emulator.base_url(),
        "--api-key".into(),
        "secret-key-123".into(),
    ]
}

fn error_lines(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| l.contains("error:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn quickstart_runs_offline_on_the_built_in_emulator_with_plain_stderr() {
    for provider in ["umodelverse", "vtrix", "vidu"] {
        let dir = Scratch::new();
        let out = dir.join("cat.mp4");
        let o = run(&mut img2video(provider, &out, &["--prompt", "a cat"]));
        let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
        assert!(o.status.success(), "{provider}: {stderr}");
        assert!(
            stderr.starts_with("vidu: no API key and no base URL: using the built-in emulator at http://127.0.0.1:"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
        // stdout: exactly the one line; the id is the one the progress lines showed.
        let id = stdout
            .strip_prefix("task ")
            .and_then(|s| s.split(':').next())
            .unwrap_or_else(|| panic!("{stdout}"));
        assert_eq!(
            stdout,
            format!(
                "task {id}: wrote {} ({} bytes)\n",
                out.display(),
                Emulator::video_bytes().len()
            )
        );
        assert!(
            stderr.contains(&format!("task {id}: succeeded")),
            "{stderr}"
        );
        // Not a terminal: plain lines, one per change, no \r or escape sequences.
        assert_plain("stderr", &stderr);
        assert_plain("stdout", &stdout);
    }
}

#[test]
fn a_failed_task_exits_3_and_a_timeout_4_naming_the_real_task_id() {
    for (scenario, extra, code) in [
        (Scenario::TaskFails, &[][..], 3),
        (Scenario::NeverFinishes, &["--timeout", "0.3"][..], 4),
    ] {
        let emulator = Emulator::start_with(EmulatorOptions::new().scenario(scenario)).unwrap();
        let dir = Scratch::new();
        let out = dir.join("out.mp4");
        let o = run(img2video("vidu", &out, extra).args(against(&emulator)));
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{scenario:?}: {stderr}");
        let ids = task_ids(&emulator);
        assert_eq!(ids.len(), 1, "one task paid for");
        let errors = error_lines(&o);
        assert_eq!(errors.len(), 1, "{stderr}");
        assert_eq!(&errors[0], last_line(&stderr));
        assert!(
            errors[0].contains(&format!("task {} ", ids[0])),
            "names the real task id {}: {stderr}",
            ids[0]
        );
        assert!(!stderr.contains("secret-key-123"));
        assert!(!out.exists(), "no file at --output on failure");
        assert_plain("stderr", &stderr);
    }
}

#[test]
fn a_failed_download_exits_1_naming_the_real_task_id_and_how_to_resume() {
    let gone = Fault::on(Route::Video).error(404);
    let emulator = Emulator::start_with(EmulatorOptions::new().fault(gone)).unwrap();
    let dir = Scratch::new();
    let out = dir.join("out.mp4");
    let o = run(img2video("vidu", &out, &[]).args(against(&emulator)));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let ids = task_ids(&emulator);
    assert_eq!(ids.len(), 1);
    assert_eq!(error_lines(&o).len(), 1, "{stderr}");
    let last = last_line(&stderr);
    assert!(
        last.starts_with("vidu: error: download failed (task "),
        "{stderr}"
    );
    assert!(last.contains(&format!("(task {})", ids[0])), "{stderr}");
    assert!(
        last.ends_with(&format!("--task-id {} --output {}", ids[0], out.display())),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn invalid_input_exits_2_with_one_line_and_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    for (provider, extra, says) in [
        ("vidu", &["--duration", "99"][..], "invalid duration \"99\""),
        (
            "vtrix",
            &["--seed", "42"][..],
            "invalid seed \"42\": vtrix does not take seed; leave it unset",
        ),
        ("vtrix", &["--off-peak"][..], "off_peak"),
        ("vtrix", &["--audio"][..], "audio"),
        ("vtrix", &["--watermark"][..], "watermark"),
    ] {
        let dir = Scratch::new();
        let out = dir.join("out.mp4");
        let o = run(img2video(provider, &out, extra).args(against(&emulator)));
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(error_lines(&o).len(), 1, "{stderr}");
        assert!(last_line(&stderr).contains(says), "{extra:?}: {stderr}");
        assert!(!out.exists());
    }
    assert_eq!(emulator.stats().api_connections, 0, "nothing was sent");
}

#[test]
fn a_bad_ca_file_exits_2_naming_it_and_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    let dir = Scratch::new();
    let not_pem = dir.join("company-ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let missing = dir.join("missing-ca.pem");
    for (how, ca) in [("flag", &not_pem), ("env", &missing)] {
        let out = dir.join("out.mp4");
        let mut cmd = img2video("vidu", &out, &[]);
        cmd.args(against(&emulator));
        if how == "flag" {
            cmd.arg("--ca-file").arg(ca);
        } else {
            cmd.env("VIDU_CA_FILE", ca);
        }
        let o = run(&mut cmd);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{how}: {stderr}");
        assert!(last_line(&stderr).contains("ca_file"), "{how}: {stderr}");
        assert!(
            last_line(&stderr).contains(ca.file_name().unwrap().to_str().unwrap()),
            "{how}: names the file: {stderr}"
        );
        assert!(!out.exists());
    }
    assert_eq!(emulator.stats().api_connections, 0, "nothing was sent");
}

#[test]
fn usage_errors_exit_2_and_say_what_is_missing() {
    let dir = Scratch::new();
    let out = dir.join("o.mp4");
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "img2video",
                "--provider",
                "nope",
                "--image",
                "x.png",
                "--output",
                "o.mp4",
            ],
            "[possible values: umodelverse, vtrix, vidu]",
        ),
        (
            &["img2video", "--provider", "vidu", "--image", "x.png"],
            "--output <FILE.mp4>",
        ),
        (
            &["img2video", "--image", "x.png", "--output", "o.mp4"],
            "--provider is required",
        ),
        (
            &["img2video", "--provider", "vidu", "--output", "o.mp4"],
            "<--image <PATH_OR_URL>|--task-id <ID>>",
        ),
        (
            &[
                "img2video",
                "--provider",
                "vidu",
                "--image",
                "x.png",
                "--output",
                "o.gif",
            ],
            "expected a file name ending in .mp4",
        ),
        (
            &[
                "img2video",
                "--provider",
                "vidu",
                "--movement-amplitude",
                "wild",
                "--image",
                "x.png",
                "--output",
                "o.mp4",
            ],
            "[possible values: auto, small, medium, large]",
        ),
    ];
    for (args, says) in cases {
        let o = run(vidu().args(args).current_dir(dir.path()));
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(error_lines(&o).len(), 1, "{stderr}");
    }
    // A base URL without a key.
    let o = run(&mut img2video(
        "vidu",
        &out,
        &["--base-url", "http://127.0.0.1:9"],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(last_line(&text(&o.stderr)).ends_with("no API key: pass --api-key or set VIDU_API_KEY"));
    // An empty variable counts as unset.
    let o = run(img2video("vidu", &out, &[])
        .env("VIDU_API_KEY", "")
        .env("VIDU_BASE_URL", ""));
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn help_version_and_completions_exit_0() {
    let help = run(vidu().args(["img2video", "--help"]));
    assert!(help.status.success());
    for flag in [
        "--task-id",
        "--journal",
        "--dry-run",
        "--poll-interval",
        "[env: VIDU_API_KEY]",
    ] {
        assert!(text(&help.stdout).contains(flag), "{flag}");
    }
    let o = run(vidu().args(["emulator", "--help"]));
    assert!(o.status.success() && text(&o.stdout).contains("task-fails"));
    let o = run(vidu().arg("--version"));
    assert_eq!(
        text(&o.stdout),
        format!("vidu {}\n", env!("CARGO_PKG_VERSION"))
    );
    let o = run(vidu().args(["completions", "bash"]));
    assert!(o.status.success() && text(&o.stdout).contains("img2video"));
}

#[test]
fn a_timed_out_task_is_resumed_by_the_printed_command_without_a_new_submit() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(4)).unwrap();
    let dir = Scratch::new();
    let out = dir.join("out.mp4");
    let url = emulator.base_url();
    let o = run(img2video("vidu", &out, &["--timeout", "0.05"]).args(against(&emulator)));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{stderr}");
    let ids = task_ids(&emulator);
    assert_eq!(ids.len(), 1);
    let command = format!(
        "vidu img2video --provider vidu --base-url {url} --task-id {} --output {}",
        ids[0],
        out.display()
    );
    assert!(
        last_line(&stderr).ends_with(&format!("; to resume: {command}")),
        "{stderr}"
    );
    assert!(!out.exists());

    // The printed command, as a user pastes it (plus the key, never printed).
    let words: Vec<&str> = command.split(' ').skip(1).collect();
    let o = run(vidu()
        .args(&words)
        .args(["--api-key", "k", "--poll-interval", "0.02"]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    assert_eq!(emulator.stats().submits, 1, "resuming pays for no new task");
    assert!(text(&o.stdout).starts_with(&format!("task {}: wrote ", ids[0])));
}

#[test]
fn dry_run_prints_the_request_and_sends_nothing() {
    let emulator = Emulator::start().unwrap();
    let dir = Scratch::new();
    let out = dir.join("out.mp4");
    let o =
        run(img2video("vidu", &out, &["--prompt", "a cat", "--dry-run"]).args(against(&emulator)));
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        stdout.contains(&format!(
            "POST {}/ent/v2/img2video\nauthorization: <redacted>\n",
            emulator.base_url()
        )),
        "{stdout}"
    );
    let png_len = std::fs::metadata(sample_png()).unwrap().len();
    assert!(
        stdout.contains(&format!(
            "\"images\":[\"<image/png image, {png_len} bytes, sent as a base64 data URI of "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("\"prompt\":\"a cat\""), "{stdout}");
    assert!(!stdout.contains("secret-key-123") && !text(&o.stderr).contains("secret-key-123"));
    let stats = emulator.stats();
    assert_eq!(
        (stats.api_connections, stats.submit_requests),
        (0, 0),
        "nothing was sent"
    );
    assert!(!out.exists());
    // Without a key: no emulator is started, the provider's own URL is shown.
    let o = run(&mut img2video("umodelverse", &out, &["--dry-run"]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("POST https://api.umodelverse.ai/"),
        "{}",
        text(&o.stdout)
    );
    assert!(!text(&o.stderr).contains("emulator"));
    // An invalid job: exit 2, as without --dry-run.
    let o = run(&mut img2video(
        "vidu",
        &out,
        &["--dry-run", "--duration", "99"],
    ));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn verbose_shows_info_records_quiet_by_default_and_rust_log_is_honoured() {
    let emulator = Emulator::start().unwrap();
    let dir = Scratch::new();
    let info = format!("vidu: INFO vidu_cli: vidu at {}", emulator.base_url());
    let quiet = run(img2video("vidu", &dir.join("a.mp4"), &[]).args(against(&emulator)));
    assert!(quiet.status.success());
    assert!(
        !text(&quiet.stderr).contains("INFO"),
        "{}",
        text(&quiet.stderr)
    );
    let verbose = run(img2video("vidu", &dir.join("b.mp4"), &["-v"]).args(against(&emulator)));
    assert!(
        text(&verbose.stderr).contains(&info),
        "{}",
        text(&verbose.stderr)
    );
    let debug = run(img2video("vidu", &dir.join("c.mp4"), &[])
        .args(against(&emulator))
        .env("RUST_LOG", "vidu_cli=info"));
    assert!(
        text(&debug.stderr).contains(&info),
        "{}",
        text(&debug.stderr)
    );
}

#[test]
fn ctrl_c_exits_130_with_the_real_task_id_and_the_resume_command() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let dir = Scratch::new();
    let out = dir.join("ctrl-c.mp4");
    let mut run = Running::start(img2video("vidu", &out, &[]).args(against(&emulator)));
    run.until("a progress line", |l| {
        l.starts_with("task ") && l.contains(": queued")
    });
    run.signal("-INT");
    let (status, _, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let ids = task_ids(&emulator);
    assert_eq!(ids.len(), 1);
    assert!(
        last_line(&stderr).ends_with(&format!("--task-id {} --output {}", ids[0], out.display())),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing at --output");
}

#[test]
fn with_a_journal_a_rerun_picks_up_its_task_after_a_kill() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(3)).unwrap();
    let dir = Scratch::new();
    let out = dir.join("journaled.mp4");
    let journal = dir.join("img2video.journal");
    let command = || {
        let mut cmd = img2video("umodelverse", &out, &[]);
        cmd.args(against(&emulator)).arg("--journal").arg(&journal);
        cmd
    };
    let mut run = Running::start(&mut command());
    run.until("a progress line", |l| l.starts_with("task "));
    run.signal("-KILL");
    run.finish();
    assert_eq!(emulator.stats().submits, 1);
    let o = command().output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    assert_eq!(emulator.stats().submits, 1, "the rerun paid nothing");
}

#[test]
fn with_a_journal_a_failure_exits_3_and_a_deadline_4_naming_the_real_task_id() {
    for (scenario, extra, code, ends) in [
        (Scenario::TaskFails, &[][..], 3, None),
        (
            Scenario::NeverFinishes,
            &["--timeout", "0.3"][..],
            4,
            Some("; to resume: rerun the same command"),
        ),
    ] {
        let emulator = Emulator::start_with(EmulatorOptions::new().scenario(scenario)).unwrap();
        let dir = Scratch::new();
        let out = dir.join("out.mp4");
        let journal = dir.join("journal");
        let o = run(img2video("vidu", &out, extra)
            .args(against(&emulator))
            .arg("--journal")
            .arg(&journal));
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{scenario:?}: {stderr}");
        let ids = task_ids(&emulator);
        assert_eq!(ids.len(), 1);
        assert_eq!(error_lines(&o).len(), 1, "{stderr}");
        assert!(
            last_line(&stderr).contains(&format!("task {}", ids[0])),
            "{stderr}"
        );
        if let Some(ends) = ends {
            assert!(last_line(&stderr).ends_with(ends), "{stderr}");
        }
        assert!(!out.exists());
    }
}

#[test]
fn with_a_journal_ctrl_c_exits_130_naming_the_real_task_id() {
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::NeverFinishes)).unwrap();
    let dir = Scratch::new();
    let out = dir.join("out.mp4");
    let mut cmd = img2video("vidu", &out, &[]);
    cmd.args(against(&emulator))
        .arg("--journal")
        .arg(dir.join("journal"));
    let mut run = Running::start(&mut cmd);
    run.until("a progress line", |l| {
        l.starts_with("task ") && l.contains(": queued")
    });
    run.signal("-INT");
    let (status, _, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let ids = task_ids(&emulator);
    assert_eq!(ids.len(), 1);
    assert!(
        last_line(&stderr)
            .starts_with(&format!("vidu: error: stopped waiting for task {}", ids[0])),
        "{stderr}"
    );
    assert!(
        last_line(&stderr).ends_with("; to resume: rerun the same command"),
        "{stderr}"
    );
}

#[test]
fn the_search_window_is_a_flag_of_both_commands_and_a_bad_value_exits_2() {
    for command in ["img2video", "batch"] {
        let help = run(vidu().args([command, "--help"]));
        assert!(
            text(&help.stdout).contains("--search-window <SECS>"),
            "{command} --help: {}",
            text(&help.stdout)
        );
        let bad = run(vidu().args([command, "--provider", "vidu", "--search-window", "0"]));
        assert_eq!(bad.status.code(), Some(2), "{command}");
        assert!(
            text(&bad.stderr).contains("--search-window"),
            "{}",
            text(&bad.stderr)
        );
    }
}
