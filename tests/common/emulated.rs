//! A client against the built-in emulator, with fast polls and retries.

use std::time::Duration;

use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Scenario};
use vidu::{Client, Config, Job, Provider, WaitOptions};

use super::{assert_dir_holds, scratch_dir, SAMPLE_PNG};

pub fn emulator(scenario: Scenario) -> Emulator {
    Emulator::start_with(EmulatorOptions {
        scenario,
        ..Default::default()
    })
    .unwrap()
}

/// An emulator on which every task whose prompt contains `text` fails.
pub fn failing_prompts(text: &str) -> Emulator {
    Emulator::start_with(
        EmulatorOptions::new().fault(
            Fault::tasks()
                .prompt_contains(text)
                .effect(Effect::FailTask),
        ),
    )
    .unwrap()
}

pub fn fast_config(provider: Provider, base_url: String, key: &str) -> Config {
    let mut c = Config::new(provider, key)
        .base_url(base_url)
        .proxy_from_env(false);
    c.poll.first = Duration::from_millis(10);
    c.poll.max = Duration::from_millis(20);
    c.retry.base = Duration::from_millis(10);
    c.retry.max_delay = Duration::from_millis(50);
    c
}

pub fn client(provider: Provider, emu: &Emulator) -> Client {
    Client::new(fast_config(provider, emu.base_url(), "test-key")).unwrap()
}

pub fn job() -> Job<'static> {
    Job::new(SAMPLE_PNG).prompt("the cat turns its head")
}

pub fn wait_opts() -> WaitOptions<'static> {
    WaitOptions::new().timeout(Some(Duration::from_secs(20)))
}

/// Generates a video on `provider` through `emu` and checks that the output, alone in its
/// directory, holds exactly the emulator's MP4.
pub fn generates_the_video(provider: Provider, emu: &Emulator) {
    let dir = scratch_dir();
    client(provider, emu)
        .generate(&job(), dir.join("v.mp4"), &mut wait_opts())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

/// The ids of the first `n` tasks a fresh emulator creates on `provider` (it numbers its
/// tasks): what a caller who never saw them (`generate` that failed) expects in its errors.
pub fn first_task_ids(provider: Provider, n: usize) -> Vec<String> {
    let emu = Emulator::start().unwrap();
    let client = client(provider, &emu);
    (0..n).map(|_| client.submit(&job()).unwrap()).collect()
}
