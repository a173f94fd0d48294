//! Testing your own integration against the built-in emulator: point `Config::base_url` at it,
//! pick a scenario or inject a fault, run your code, and check what it did and what the
//! "provider" saw. The same checks fit in a `#[test]`.
//!
//! ```sh
//! cargo run --example emulator
//! ```

use std::time::Duration;

use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Scenario};
use vidu::{Client, Config, ErrorKind, Job, Provider, WaitOptions};

/// Your integration: here, one video for a prompt, returning the task id either way.
fn make_video(client: &Client, prompt: &str, out: &str) -> Result<String, vidu::Error> {
    let job = Job::new("examples/sample.png").prompt(prompt);
    let done = client.generate(&job, out, &mut WaitOptions::new())?;
    Ok(done.task_id)
}

fn client_for(emulator: &Emulator) -> Client {
    let mut config = Config::new(Provider::Vidu, "test-key").base_url(emulator.base_url());
    config.poll.first = Duration::from_millis(10); // fast tests: no real waiting
    config.poll.max = Duration::from_millis(50);
    Client::new(config).unwrap()
}

fn main() {
    let out = std::env::temp_dir().join(format!("vidu-example-{}.mp4", std::process::id()));
    let out = out.to_str().unwrap();

    // A task that fails at the provider: the error says so and keeps the task id.
    let emulator =
        Emulator::start_with(EmulatorOptions::new().scenario(Scenario::TaskFails)).unwrap();
    let e = make_video(&client_for(&emulator), "a cat", out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TaskFailed);
    assert!(
        e.task_id().is_some_and(|id| e.to_string().contains(id)),
        "{e}"
    );
    assert_eq!(emulator.stats().submits, 1, "one task paid for");
    assert!(!std::path::Path::new(out).exists(), "no file on failure");

    // A fault on some tasks only (by prompt); the others succeed with the emulator's MP4.
    let fault = Fault::tasks()
        .prompt_contains("dog")
        .effect(Effect::FailTask);
    let emulator = Emulator::start_with(EmulatorOptions::new().fault(fault)).unwrap();
    let client = client_for(&emulator);
    make_video(&client, "a cat", out).unwrap();
    assert_eq!(std::fs::read(out).unwrap(), Emulator::video_bytes());
    assert!(make_video(&client, "a dog", out).is_err());
    assert_eq!(emulator.stats().submits, 2);
    let sent = emulator.stats().last_submit.unwrap();
    assert_eq!(sent.json["prompt"], "a dog", "what the provider received");

    std::fs::remove_file(out).unwrap();
    println!("ok: the integration handles a failed task and writes the video");
}
