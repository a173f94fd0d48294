//! Tests that would catch a broken rule: each kills a mutant that survived `cargo mutants`
//! (RELIABILITY.md, "Mutation testing").

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
