//! Tests that would catch a broken rule: each kills a mutant that survived `cargo mutants`
//! (RELIABILITY.md, "Mutation testing").

mod common;

use std::time::Duration;

use vidu::{Client, Config, ErrorKind, Job, PollSchedule, Provider};

/// Jitter is what keeps many clients from polling in step: the delays must actually vary
/// across the whole jitter range (a broken generator that sticks to one value fails).
#[test]
fn poll_jitter_is_spread_over_its_range() {
    let schedule = PollSchedule::new()
        .first(Duration::from_secs(1))
        .max(Duration::from_secs(1))
        .jitter(0.5);
    let delays: Vec<f64> = (0..400).map(|_| schedule.delay(0).as_secs_f64()).collect();
    let (min, max) = delays
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    assert!(min >= 0.5 && max <= 1.0, "{min}..{max}");
    // Uniform over [0.5, 1]: each bound below is missed with probability 0.8^400.
    assert!(min < 0.6 && max > 0.9, "delays stuck in {min}..{max}");
}

/// A model name with a space, or an empty one, is refused even when unknown models are
/// allowed: it would go into the JSON as is.
#[test]
fn a_model_name_with_spaces_is_refused_even_when_unknown_models_are_allowed() {
    let client = Client::new(Config::new(Provider::Vidu, "k")).unwrap();
    let png = include_bytes!("../examples/sample.png");
    for model in ["vidu q1", "", "\tq1"] {
        let job = Job::new(&png[..])
            .prompt("p")
            .model(model)
            .allow_unknown_model(true);
        let e = client.check(&job).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{model:?}: {e}");
        assert!(e.to_string().contains("model"), "{model:?}: {e}");
    }
}

fn vidu_check(job: Job<'_>) -> vidu::Result<()> {
    Client::new(Config::new(Provider::Vidu, "k"))
        .unwrap()
        .check(&job)
}

fn sample_job() -> Job<'static> {
    Job::new(&include_bytes!("../examples/sample.png")[..]).prompt("p")
}

/// Limits are inclusive: the largest allowed value passes, one more is refused by name.
#[test]
fn seed_and_payload_limits_are_inclusive() {
    let max_seed = i64::MAX as u64;
    vidu_check(sample_job().seed(max_seed)).unwrap();
    let e = vidu_check(sample_job().seed(max_seed + 1)).unwrap_err();
    assert!(e.to_string().contains("seed"), "{e}");

    let max_payload = 1_048_576; // the official API's documented limit, in characters
    vidu_check(sample_job().payload("é".repeat(max_payload))).unwrap();
    let e = vidu_check(sample_job().payload("é".repeat(max_payload + 1))).unwrap_err();
    assert!(e.to_string().contains("payload"), "{e}");
}

/// An empty voice id is refused (it would be sent as an empty string).
#[test]
fn an_empty_voice_id_is_refused() {
    let e = vidu_check(sample_job().audio(true).voice_id("")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("voice_id"), "{e}");
    vidu_check(sample_job().audio(true).voice_id("v1")).unwrap();
}

/// A journal named by a bare file name (no directory) works: its directory is `.`. The test
/// runs itself again as a child process in a scratch directory, so that no test changes the
/// working directory of the process the others share.
#[test]
fn a_journal_given_a_bare_file_name_opens_in_the_working_directory() {
    const CHILD: &str = "VIDU_RULES_BARE_JOURNAL_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let header = vidu::journal::Header::new("f00d", 1, "vidu");
        let (journal, replay) = vidu::Journal::open("bare.jsonl", &header).unwrap();
        assert_eq!(replay.jobs.len(), 1);
        drop(journal);
        return;
    }
    let dir = common::TempDir::new();
    let out = common::tools::run_to_end(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_journal_given_a_bare_file_name_opens_in_the_working_directory",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .current_dir(&*dir),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("bare.jsonl").exists());
}

/// Errors say what is allowed and what was given (the house rule), not just the field.
#[test]
fn errors_list_the_allowed_values_and_describe_the_image() {
    let e = vidu_check(sample_job().duration(99))
        .unwrap_err()
        .to_string();
    let allowed = e.split("one of ").nth(1).unwrap_or_else(|| panic!("{e}"));
    assert!(
        allowed.contains(", ") && allowed.chars().any(|c| c.is_ascii_digit()),
        "{e}"
    );

    // 11 MB inline: over the official API's 10 MB decoded-image limit.
    let mut big = include_bytes!("../examples/sample.png").to_vec();
    big.resize(11 * 1024 * 1024, 0);
    let e = vidu_check(Job::new(&big[..]).prompt("p"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("{} bytes in memory", big.len())), "{e}");
}

/// A URL field with a space in it is refused, as is one that is not http(s).
#[test]
fn callback_urls_with_spaces_or_other_schemes_are_refused() {
    for url in ["https://example.com/a b", "ftp://example.com/", "https://"] {
        let e = vidu_check(sample_job().callback_url(url)).unwrap_err();
        assert!(e.to_string().contains("callback_url"), "{url}: {e}");
    }
    vidu_check(sample_job().callback_url("https://example.com/hook")).unwrap();
}
