//! `vidu status`, `cancel`, `tasks` and `credits` against the emulator, run as the built binary.
#![cfg(feature = "emulator")]

mod common;

use common::{run, task_ids, text, vidu};
use vidu::emulator::{Emulator, EmulatorOptions};
use vidu::{Client, Config, Job, Provider};

fn at(emulator: &Emulator, args: &[&str]) -> std::process::Output {
    run(vidu()
        .args(args)
        .args(["--base-url", &emulator.base_url(), "--api-key", "k"]))
}

/// A task submitted through the library, as another program would.
fn submit(emulator: &Emulator, provider: Provider) -> String {
    let config = Config::new(provider, "k").base_url(emulator.base_url());
    let client = Client::new(config).unwrap();
    client
        .submit(&Job::new(common::sample_png().as_path()).prompt("a cat"))
        .unwrap()
}

#[test]
fn status_tasks_cancel_and_credits_print_what_the_provider_says() {
    let emulator = Emulator::start_with(EmulatorOptions::new().polls_per_state(1)).unwrap();
    let id = submit(&emulator, Provider::Vidu);

    let o = at(&emulator, &["status", "--provider", "vidu", &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with(&format!("task {id}: ")),
        "{}",
        text(&o.stdout)
    );

    let o = at(&emulator, &["tasks"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let listed: Vec<String> = stdout
        .lines()
        .filter_map(|l| Some(l.strip_prefix("task ")?.split(':').next()?.to_owned()))
        .collect();
    assert_eq!(listed, task_ids(&emulator));

    let o = at(&emulator, &["cancel", &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("task {id}: cancel requested\n"));
    assert_eq!(
        emulator.stats().cancels,
        1,
        "the cancel reached the provider"
    );

    let o = at(&emulator, &["credits"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("credits left"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(emulator.stats().credits_calls, 1);
}

#[test]
fn the_gateways_say_cancel_is_not_theirs_and_an_unknown_task_names_its_id() {
    let emulator = Emulator::start().unwrap();
    let id = submit(&emulator, Provider::Vtrix);
    let o = at(&emulator, &["cancel", "--provider", "vtrix", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not supported by vtrix"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(emulator.stats().cancels, 0);

    let o = at(&emulator, &["status", "--provider", "vidu", "123456"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("123456"), "{}", text(&o.stderr));
    let o = run(vidu().args(["status", "123"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--provider is required"));
}
