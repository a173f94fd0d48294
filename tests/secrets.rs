//! Secret hygiene, checked with a marker key: it never appears in the `Debug` or `Display` of
//! a public type, in a Rust or C error message, or in any log record at any level (ureq-proto
//! hexdumps request heads at TRACE: they carry a placeholder, the key is put in on the way to
//! the socket, see `transport::KeyInserter`); it never reaches the video host.
#![cfg(feature = "emulator")]

mod common;

use std::ffi::CString;
use std::sync::Mutex;
use std::time::Duration;

use common::emulated::{fast_config, job, wait_opts};
use common::scratch_dir;
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route, Scenario};
use vidu::{Client, Config, Job, Provider, TaskStatus, WaitOptions};

const MARKER: &str = "sk-MARKER-7f3a9c5e1d";

/// Every record, as (level, target, text).
static RECORDS: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let text = format!("{}", record.args());
        RECORDS
            .lock()
            .unwrap()
            .push((record.level(), record.target().to_owned(), text));
    }
    fn flush(&self) {}
}

fn install_logger() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

fn emulator(scenario: Scenario, faults: Vec<Fault>) -> Emulator {
    // A small video: at TRACE every body byte is hexdumped, 16 to a record.
    let mut options = EmulatorOptions::new()
        .api_key(MARKER)
        .scenario(scenario)
        .video_size(4096);
    for f in faults {
        options = options.fault(f);
    }
    Emulator::start_with(options).unwrap()
}

fn client(provider: Provider, emu: &Emulator) -> Client {
    Client::new(fast_config(provider, emu.base_url(), MARKER)).unwrap()
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(MARKER), "{what} shows the key: {text}");
    // A fragment of it is as bad (a 16-byte log row, a cut message).
    assert!(
        !text.contains(&MARKER[3..13]),
        "{what} shows part of the key: {text}"
    );
}

fn assert_error_clean(what: &str, e: &vidu::Error) {
    assert_clean(&format!("{what} (Display)"), &e.to_string());
    assert_clean(&format!("{what} (Debug)"), &format!("{e:?}"));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_clean(&format!("{what} (source)"), &s.to_string());
        source = s.source();
    }
}

/// Drives every provider through success, task failure, a refused key, throttling, a
/// malformed answer, a reset submit, an expired URL, a redirect and a timeout, with the marker
/// key and a logger at TRACE; then checks every output.
#[test]
fn the_key_never_shows_in_output_logs_or_video_requests() {
    install_logger();
    let mut errors = Vec::new();
    let mut statuses: Vec<TaskStatus> = Vec::new();
    for &provider in Provider::ALL {
        // Success, including a redirected and an expired video URL.
        for scenario in [
            Scenario::Normal,
            Scenario::RedirectVideo,
            Scenario::ExpiredUrl,
        ] {
            let emu = emulator(scenario, vec![]);
            let c = client(provider, &emu);
            let out = scratch_dir().join("v.mp4");
            let done = c.generate(&job(), &out, &mut wait_opts()).unwrap();
            statuses.push(done.status.clone());
            assert_clean("Generated", &format!("{done:?}"));
            // The video host never sees the key, in any header.
            let stats = emu.stats();
            assert!(!stats.video_requests.is_empty());
            for r in &stats.video_requests {
                assert!(r.header("authorization").is_none(), "{r:?}");
                assert_clean("a request to the video host", &format!("{r:?}"));
            }
            assert_clean("Client", &format!("{c:?}"));
            assert_clean("Config", &format!("{:?}", c.config()));
        }
        // Failures of every kind that can be provoked.
        let faulty = [
            (Scenario::TaskFails, vec![]),
            (Scenario::ResetAfterSubmit, vec![]),
            (
                Scenario::Normal,
                vec![Fault::on(Route::Submit).error(429).retry_after(0)],
            ),
            (Scenario::Normal, vec![Fault::on(Route::Submit).error(500)]),
            (
                Scenario::Normal,
                vec![Fault::on(Route::Status).effect(Effect::Malformed)],
            ),
            (Scenario::NeverFinishes, vec![]),
        ];
        for (scenario, faults) in faulty {
            // The official API finds the task of a submit whose answer was lost: no error.
            if scenario == Scenario::ResetAfterSubmit && provider == Provider::Vidu {
                continue;
            }
            let emu = emulator(scenario, faults);
            let c = client(provider, &emu);
            let mut options = WaitOptions::new().timeout(Some(Duration::from_millis(300)));
            let e = c
                .generate(&job(), scratch_dir().join("v.mp4"), &mut options)
                .unwrap_err();
            errors.push(e);
        }
        // A key the server refuses: the 401 answer is the likeliest place for an echo.
        let emu = emulator(Scenario::Normal, vec![]);
        let other = Client::new(fast_config(provider, emu.base_url(), "sk-other-key")).unwrap();
        errors.push(other.submit(&job()).unwrap_err());
        let c = client(provider, &emu);
        errors.push(c.status("no-such-task").unwrap_err());
        errors.push(c.status("../x").unwrap_err());
        errors.push(c.submit(&Job::new("/no/such.png")).unwrap_err());
        errors.push(c.submit(&job().model("no-such-model")).unwrap_err());
        let the_job = job();
        let sub = c.prepare(&the_job).unwrap();
        assert_clean("Submission", &format!("{sub:?}"));
        assert_clean("Job", &format!("{:?}", job()));
        // Nothing listens on port 9: a transport error.
        let refused =
            Client::new(fast_config(provider, "http://127.0.0.1:9".into(), MARKER)).unwrap();
        errors.push(refused.status("t1").unwrap_err());
    }
    // Invalid configurations that include the key, or are about it.
    for bad in [
        Config::new(Provider::Vidu, format!("{MARKER} ")),
        Config::new(Provider::Vidu, format!("{MARKER}ключ")),
        Config::new(Provider::Vidu, MARKER).base_url("ftp://x"),
    ] {
        assert_clean("Config", &format!("{bad:?}"));
        errors.push(Client::new(bad).unwrap_err());
    }
    for (i, e) in errors.iter().enumerate() {
        assert_error_clean(&format!("error {i} ({:?})", e.kind()), e);
    }
    for s in &statuses {
        assert_clean("TaskStatus", &format!("{s:?}"));
    }

    let records = RECORDS.lock().unwrap();
    let mut hexdump = String::new();
    for (level, target, text) in records.iter() {
        assert_clean(&format!("log record {level} {target}"), text);
        if target.starts_with("ureq_proto") && *level == log::Level::Trace {
            // The ASCII column of a hexdump row: the last 16 characters.
            let ascii: String = text.chars().rev().take(16).collect();
            hexdump.extend(ascii.chars().rev());
        }
    }
    // The records checked include ureq-proto's hexdumps of request heads, which carry the
    // Authorization header: with the placeholder in it, not the key.
    assert!(
        hexdump.contains("authorization:"),
        "no hexdumped request head was captured"
    );
    // Rows are 16 bytes: look at them joined up too.
    assert_clean("ureq-proto's hexdump, rows joined", &hexdump);
}

/// The C layer: every error message of a call given the marker key is free of it.
#[cfg(feature = "capi")]
#[test]
fn c_error_messages_do_not_show_the_key() {
    use common::ffi::{failure, zeroed_config, zeroed_job};
    use vidu::ffi::*;

    let emu = emulator(Scenario::TaskFails, vec![]);
    let url = CString::new(emu.base_url()).unwrap();
    let mut messages = Vec::new();
    for key in [
        format!("{MARKER} "),
        format!("{MARKER}ключ"),
        MARKER.to_owned(),
    ] {
        let key = CString::new(key).unwrap();
        let mut config = zeroed_config();
        config.provider = VIDU_PROVIDER_VIDU;
        config.api_key = key.as_ptr();
        config.base_url = c"ftp://nowhere".as_ptr();
        let mut client = std::ptr::null_mut();
        let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
            vidu_client_new(&config, &mut client, err)
        });
        messages.push(err.message());
    }
    let key = CString::new(MARKER).unwrap();
    let mut config = zeroed_config();
    config.provider = VIDU_PROVIDER_VIDU;
    config.api_key = key.as_ptr();
    config.base_url = url.as_ptr();
    config.poll_first_secs = 0.01;
    config.poll_max_secs = 0.02;
    let mut client = std::ptr::null_mut();
    common::ffi::success(|err| unsafe { vidu_client_new(&config, &mut client, err) });
    let mut job = zeroed_job();
    job.image_data = common::SAMPLE_PNG.as_ptr();
    job.image_len = common::SAMPLE_PNG.len();
    job.prompt = c"a cat".as_ptr();
    let out = CString::new(scratch_dir().join("v.mp4").to_str().unwrap()).unwrap();
    let err = failure(VIDU_ERROR_TASK_FAILED, |err| unsafe {
        vidu_client_generate(
            client,
            &job,
            out.as_ptr(),
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            err,
        )
    });
    messages.push(err.message());
    let err = failure(VIDU_ERROR_INVALID_INPUT, |err| unsafe {
        vidu_client_status(client, c"../x".as_ptr(), &mut std::ptr::null_mut(), err)
    });
    messages.push(err.message());
    unsafe { vidu_client_free(client) };
    for m in &messages {
        assert_clean("C error message", m);
    }
}

/// TLS verification has no switch: the agent is built from `Config` alone, which can choose
/// which roots to trust (`trust_store`, `ca_certificates`) but never to skip verification (see
/// RELIABILITY.md, "TLS").
#[test]
fn there_is_no_tls_switch() {
    for file in ["/src/client.rs", "/src/transport.rs", "/src/download.rs"] {
        let src = std::fs::read_to_string(format!("{}{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for knob in ["disable_verification", "danger", "DisabledVerifier"] {
            assert!(!src.contains(knob), "{file} mentions {knob}");
        }
    }
    let config = format!("{:?}", Config::new(Provider::Vidu, "k"));
    for word in ["verify", "verification", "insecure", "danger"] {
        assert!(
            !config.to_lowercase().contains(word),
            "Config has a {word} field: {config}"
        );
    }
}
