//! The fuzz targets (`fuzz/`, run with cargo-fuzz) in a short, seeded, deterministic form, so
//! that every `cargo test` feeds each parser a few thousand mutated inputs. Starts from the
//! committed seeds (`fuzz/seeds/<target>/`, made from the protocol documents' samples) and
//! from the regression inputs of past findings. A failure prints the seed and the input.

use std::path::Path;

/// xorshift64*: small, std-only, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that tend to matter to these parsers.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\\u0000",
    b"\r\n",
    b"\r\n\r\n",
    b"://",
    b"@",
    b"%",
    b"?",
    b"#",
    b"FFFFFFFFFFFFFFFF",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF",
    b"WEBP",
    b"\x00",
    b"\xff\xff\xff\xff",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
            1 if !input.is_empty() => {
                let end = (at + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            2 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(at..at, piece.iter().copied());
            }
            3 if !input.is_empty() => {
                // Duplicate a slice (grows nesting and repeated headers).
                let start = rng.below(input.len());
                let end = (start + rng.below(64)).min(input.len());
                let copy = input[start..end].to_vec();
                input.splice(at..at, copy);
            }
            4 => input.truncate(at),
            _ => input.insert(at, rng.next() as u8),
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Runs `target` on every seed, then on `rounds` mutants of them.
fn run(name: &str, rounds: u32, target: fn(&[u8])) {
    let seeds = seeds(name);
    for seed in &seeds {
        target(seed);
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
    for round in 0..rounds {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut input);
        let outcome = std::panic::catch_unwind(|| target(&input));
        if outcome.is_err() {
            panic!(
                "{name}: round {round} failed on input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn provider_answers() {
    run("provider_answer", 40000, vidu::fuzzing::provider_answer);
}

#[test]
fn retry_after_values() {
    run("retry_after", 40000, vidu::fuzzing::retry_after);
}

#[test]
fn image_headers() {
    run("image_header", 40000, vidu::fuzzing::image_header);
}

#[test]
fn video_urls() {
    run("video_url", 40000, vidu::fuzzing::video_url);
}

#[test]
fn content_ranges() {
    run("content_range", 40000, vidu::fuzzing::content_range);
}

#[test]
fn redirects() {
    run("redirect", 40000, vidu::fuzzing::redirect);
}

#[cfg(feature = "emulator")]
#[test]
fn emulator_requests() {
    run("emulator_request", 40000, vidu::fuzzing::emulator_request);
}

#[cfg(feature = "capi")]
#[test]
fn c_entry_points() {
    run("c_entry_points", 2000, vidu::fuzzing::c_entry_points);
}

/// Finding of `provider_answer`: a 2xx submit answer may carry a task id outside the URL-safe
/// alphabet (`../x`). The task exists and is paid for, so `generate` must hand its id back; it
/// must never be put into a URL. Was: the error from the first poll had no task id and said
/// "nothing was sent"; now the submit reports it (see also tests/task_ids.rs).
#[cfg(feature = "emulator")]
#[test]
fn an_unusable_task_id_from_a_submit_is_refused_before_any_poll_and_kept_in_the_error() {
    use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route};
    use vidu::{Client, Config, ErrorKind, Job, Provider, WaitOptions};

    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Submit).respond(200, r#"{"id":"../x","status":"queued"}"#)),
    )
    .unwrap();
    let client = Client::new(
        Config::new(Provider::Vtrix, "test-key")
            .base_url(emu.base_url())
            .proxy_from_env(false),
    )
    .unwrap();
    let png = include_bytes!("../examples/sample.png");
    let out = std::env::temp_dir().join(format!("vidu-fuzz-short-{}.mp4", std::process::id()));
    let e = client
        .generate(
            &Job::new(&png[..]).prompt("p"),
            &out,
            &mut WaitOptions::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(e.task_id(), Some("../x"), "{e}");
    assert!(!e.to_string().contains("nothing was sent"), "{e}");
    assert_eq!(emu.stats().status_polls, 0, "nothing was sent with that id");
    assert!(!out.exists());
}
