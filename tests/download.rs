//! Downloading the video: resume (within a call and across runs), restart, redirects, expired
//! URLs, output paths, hostile hosts; never the key.
#![cfg(feature = "emulator")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::emulated::*;
use common::{assert_dir_holds, scratch_dir};
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, RecordedRequest, Route, Scenario};
use vidu::{
    CancelToken, Client, Config, Error, Provider, State, TaskStatus, Timeouts, WaitOptions,
};

#[test]
fn cut_downloads_resume_with_range_or_restart_when_range_is_ignored() {
    for scenario in [Scenario::CutDownload, Scenario::CutDownloadIgnoresRange] {
        let emu = emulator(scenario);
        generates_the_video(Provider::UModelVerse, &emu);
        let requests = emu.stats().video_requests;
        assert!(requests.len() >= 2, "{requests:?}");
        let range = requests[1]
            .headers
            .iter()
            .find(|(k, _)| k == "range")
            .map(|(_, v)| v.clone());
        let half_or_more = range
            .unwrap()
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse::<usize>()
            .unwrap();
        assert!(half_or_more > 0 && half_or_more < Emulator::video_bytes().len());
    }
}

#[test]
fn a_cross_origin_redirect_is_followed_without_the_key() {
    let emu = emulator(Scenario::RedirectVideo);
    generates_the_video(Provider::Vidu, &emu);
    let stats = emu.stats();
    assert!(!stats.video_requests.is_empty());
    for r in stats.video_requests {
        assert!(r.headers.iter().all(|(k, _)| k != "authorization"), "{r:?}");
    }
}

#[test]
fn an_expired_video_url_is_refreshed_once() {
    let emu = emulator(Scenario::ExpiredUrl);
    generates_the_video(Provider::Vidu, &emu);
    let statuses: Vec<u16> = emu
        .stats()
        .video_requests
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.first(), Some(&403));
    assert_eq!(statuses.last(), Some(&200));
}

// ---- Partial files across runs (issue 8.5) ----

/// The partial file a download of `task_id` to `dir/name` uses: the contract a later run (or
/// a journal) relies on to find it.
fn partial_path(dir: &Path, name: &str, task_id: &str) -> PathBuf {
    let hash = task_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    dir.join(format!(".{name}.{hash:08x}.part"))
}

fn synthetic(range: std::ops::Range<u64>) -> Vec<u8> {
    range.map(Emulator::synthetic_video_byte).collect()
}

fn range_header(r: &RecordedRequest) -> Option<&str> {
    r.header("range")
}

/// Waits until the emulator has seen `n` video requests.
fn until_video_requests(emu: &Emulator, n: usize) {
    let start = Instant::now();
    while emu.stats().video_requests.len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no video request"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A client of `provider` on `emu`, and a task it submitted and waited for to its end: the
/// task's id and final status.
fn finished_task(provider: Provider, emu: &Emulator) -> (Client, String, TaskStatus) {
    let c = client(provider, emu);
    let task_id = c.submit(&job()).unwrap();
    let status = c.wait(&task_id, &mut wait_opts()).unwrap();
    (c, task_id, status)
}

/// An emulator serving a 1 MiB video whose first GET is cut at half and whose second answers
/// 503 with `Retry-After: <secs>`, so the download holds back, its partial file half written.
fn half_then_hold_back(secs: &str) -> Emulator {
    Emulator::start_with(
        EmulatorOptions::new()
            .video_size(1 << 20)
            .fault(Fault::on(Route::Video).nth(1).effect(Effect::CutBody))
            .fault(
                Fault::on(Route::Video)
                    .nth(2)
                    .respond(503, "busy")
                    .header("Retry-After", secs),
            ),
    )
    .unwrap()
}

#[test]
fn an_interrupted_download_is_resumed_by_a_later_run_from_its_partial_file() {
    let emu = half_then_hold_back("30");
    let dir = scratch_dir();
    let out = dir.join("v.mp4");
    let token = CancelToken::new();
    let first_run = std::thread::scope(|s| {
        let run = s.spawn(|| {
            client(Provider::Vidu, &emu).generate(
                &job(),
                &out,
                &mut wait_opts().cancel(token.clone()),
            )
        });
        until_video_requests(&emu, 2);
        token.cancel(); // the first process is interrupted while holding back
        run.join().unwrap()
    });
    let err = first_run.unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    let task_id = err.task_id().expect("the task id survives").to_owned();
    let partial = partial_path(&dir, "v.mp4", &task_id);
    // The partial file, and beside it what the host first said about the video (sidecar).
    assert_dir_holds(
        &dir,
        &[
            &sidecar_name(&dir, &task_id),
            partial.file_name().unwrap().to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&partial).unwrap(), synthetic(0..1 << 19));

    // A later run (a fresh client, as another process would have) picks the task up.
    let later = client(Provider::Vidu, &emu)
        .resume(&task_id, &out, &mut wait_opts())
        .unwrap();
    assert_eq!(later.bytes, 1 << 20);
    let requests = emu.stats().video_requests;
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(range_header(&requests[2]), Some("bytes=524288-"));
    assert_eq!(requests[2].status, 206);
    assert_eq!(std::fs::read(&out).unwrap(), synthetic(0..1 << 20));
    assert_dir_holds(&dir, &["v.mp4"]);
    assert_eq!(emu.stats().submits, 1);
}

#[test]
fn a_second_download_of_the_same_task_to_the_same_file_fails_at_once() {
    let emu = half_then_hold_back("30");
    let (c, task_id, status) = finished_task(Provider::Vidu, &emu);
    let dir = scratch_dir();
    let out = dir.join("v.mp4");
    let token = CancelToken::new();
    std::thread::scope(|s| {
        let first =
            s.spawn(|| c.download(&status, &out, &WaitOptions::new().cancel(token.clone())));
        until_video_requests(&emu, 2);
        let start = Instant::now();
        let err = c.download(&status, &out, &WaitOptions::new()).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "fails at once");
        assert!(matches!(err, Error::Download { .. }), "{err:?}");
        assert_eq!(err.task_id(), Some(task_id.as_str()));
        assert!(err.to_string().contains("another download"), "{err}");
        token.cancel();
        let first = first.join().unwrap().unwrap_err();
        assert!(matches!(first, Error::Cancelled { .. }), "{first:?}");
    });
    // The loser touched nothing: the partial file is the first download's, and resumes.
    assert_eq!(
        std::fs::metadata(partial_path(&dir, "v.mp4", &task_id))
            .unwrap()
            .len(),
        1 << 19
    );
    c.download(&status, &out, &WaitOptions::new()).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), synthetic(0..1 << 20));
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_partial_file_that_does_not_fit_the_declared_size_is_restarted_from_zero() {
    let emu = emulator(Scenario::Normal);
    let (c, task_id, status) = finished_task(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    // Longer than the video: the host answers 416 with the real size.
    let too_long = vec![0xAB; Emulator::video_bytes().len() + 100];
    std::fs::write(partial_path(&dir, "v.mp4", &task_id), too_long).unwrap();
    // Its sidecar, knowing nothing of the video (a host that declared no size or validator).
    std::fs::write(dir.join(sidecar_name(&dir, &task_id)), b"{}").unwrap();
    // Another task's partial file for the same output is not this one's: never used (and
    // removed once the output is written).
    let other = partial_path(&dir, "v.mp4", "another-task");
    std::fs::write(&other, b"other").unwrap();
    c.download(&status, dir.join("v.mp4"), &WaitOptions::new())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    let requests = emu.stats().video_requests;
    assert_eq!(requests[0].status, 416, "{requests:?}");
    assert_eq!(range_header(requests.last().unwrap()), None);
    assert!(!other.exists());
    assert_dir_holds(&dir, &["v.mp4"]);
}

// ---- Output paths (issue 9.4, 9.6) ----

/// `generate` to `out` fails naming `output`, and nothing is sent.
fn refused_before_the_submit(out: &Path) -> Error {
    let emu = emulator(Scenario::Normal);
    let err = client(Provider::UModelVerse, &emu)
        .generate(&job(), out, &mut wait_opts())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "output",
                ..
            }
        ),
        "{}: {err:?}",
        out.display()
    );
    assert_eq!(emu.stats().submit_requests, 0);
    err
}

#[cfg(unix)]
#[test]
fn output_paths_that_exist_and_are_not_regular_files_are_refused_before_the_submit() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch_dir();
    // A private null device, not /dev/null: code that fails this test must not replace the
    // system's. Making one needs root (CAP_MKNOD): CI runs as root; elsewhere the case fails
    // unless VIDU_SKIP_TOOLS names root, and then says it was skipped.
    let device = dir.join("null.mp4");
    if common::tools::require_root("the character-device case") {
        let made = std::process::Command::new("mknod")
            .arg(&device)
            .args(["c", "1", "3"])
            .status();
        assert!(made.unwrap().success(), "mknod as root");
        let err = refused_before_the_submit(&device);
        assert!(err.to_string().contains("character device"), "{err}");
    }

    let fifo = dir.join("fifo.mp4");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let err = refused_before_the_submit(&fifo);
    assert!(err.to_string().contains("FIFO"), "{err}");

    let target = dir.join("precious.txt");
    std::fs::write(&target, b"keep me").unwrap();
    let link = dir.join("link.mp4");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = refused_before_the_submit(&link);
    assert!(
        err.to_string().contains("symlinks are not followed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");

    let sub = dir.join("sub.mp4");
    std::fs::create_dir(&sub).unwrap();
    refused_before_the_submit(&sub);

    // The download itself (a task that exists) refuses them too, keeping the task id.
    let emu = emulator(Scenario::Normal);
    let (c, task_id, status) = finished_task(Provider::Vidu, &emu);
    let err = c.download(&status, &link, &WaitOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some(task_id.as_str()));
    assert!(
        err.to_string().contains("symlinks are not followed"),
        "{err}"
    );
    assert!(!err.to_string().contains("nothing was sent"), "{err}");
    let err = c.resume(&task_id, &fifo, &mut wait_opts()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "output",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn an_output_name_too_long_for_the_partial_file_is_refused_before_the_submit() {
    let dir = scratch_dir();
    let err = refused_before_the_submit(&dir.join("x".repeat(244)));
    assert!(err.to_string().contains("at most 240 bytes"), "{err}");
    // The longest name allowed works end to end.
    let emu = emulator(Scenario::Normal);
    let longest = "y".repeat(240);
    client(Provider::Vtrix, &emu)
        .generate(&job(), dir.join(&longest), &mut wait_opts())
        .unwrap();
    assert_dir_holds(&dir, &[longest.as_str()]);
}

#[cfg(unix)]
#[test]
fn an_output_path_replaced_during_the_download_is_not_written_through() {
    use std::os::unix::fs::FileTypeExt;
    let emu = half_then_hold_back("2");
    let (c, task_id, status) = finished_task(Provider::Vidu, &emu);
    let dir = scratch_dir();
    let out = dir.join("v.mp4");
    let err = std::thread::scope(|s| {
        let download = s.spawn(|| c.download(&status, &out, &WaitOptions::new()));
        until_video_requests(&emu, 2);
        // While the download holds back, something else appears at the output path.
        let made = std::process::Command::new("mkfifo").arg(&out).status();
        assert!(made.unwrap().success());
        download.join().unwrap().unwrap_err()
    });
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some(task_id.as_str()));
    assert!(std::fs::symlink_metadata(&out)
        .unwrap()
        .file_type()
        .is_fifo());
    // The whole video waits in the partial file for a rerun to a proper path.
    let partial = partial_path(&dir, "v.mp4", &task_id);
    assert_eq!(std::fs::read(partial).unwrap(), synthetic(0..1 << 20));
}

// ---- Hostile video hosts, independent of the emulator (issue 9.7, 9.8) ----

/// A video host on 127.0.0.1 that reads each request's head and lets `answer` write anything
/// to the connection. Counts connections; the second value is the request heads seen.
fn fake_host(
    answer: fn(&str, &mut TcpStream),
) -> (String, Arc<AtomicU32>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU32::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (connections.clone(), heads.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        head.push_str(&line);
                        line.clear();
                    }
                    if head.is_empty() {
                        return;
                    }
                    seen.lock().unwrap().push(head.clone());
                    answer(&head, &mut stream);
                }
            });
        }
    });
    (url, connections, heads)
}

/// Holds the connection open, sending nothing, until the client closes it.
fn hold(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.read(&mut [0u8; 1]);
}

/// Part of a 1000-byte body, then nothing, on every connection.
fn stalls_mid_body(_: &str, stream: &mut TcpStream) {
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    let _ = stream.write_all(&[7u8; 100]);
    hold(stream);
}

/// A chunked body that never ends.
fn endless_chunked(_: &str, stream: &mut TcpStream) {
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = [b"10000\r\n".as_slice(), &[9u8; 0x10000], b"\r\n"].concat();
    while stream.write_all(&chunk).is_ok() {}
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// `/a.mp4` redirects with a relative Location holding a URL in its query; `/b/v.mp4` is
/// the video.
fn redirects_relatively(head: &str, stream: &mut TcpStream) {
    let answer: &[u8] = if head.starts_with("GET /a.mp4 ") {
        b"HTTP/1.1 302 Found\r\nLocation: /b/v.mp4?from=https://cdn.example\r\nContent-Length: 0\r\n\r\n"
    } else if head.starts_with("GET /b/v.mp4?from=https://cdn.example ") {
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nvideo"
    } else {
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    };
    let _ = stream.write_all(answer);
}

/// Downloads the video of the succeeded task `task-hostile`, at `url`, to `dir/v.mp4` with a
/// client made by `config`, whose only use is `download` (nothing listens at its base URL).
fn download_from(
    config: impl FnOnce(Config) -> Config,
    url: String,
    dir: &Path,
) -> vidu::Result<u64> {
    download_task_from("task-hostile", config, url, dir)
}

/// [`download_from`] for a task of another id.
fn download_task_from(
    task_id: &str,
    config: impl FnOnce(Config) -> Config,
    url: String,
    dir: &Path,
) -> vidu::Result<u64> {
    let base = fast_config(Provider::Vidu, "http://127.0.0.1:9".into(), "k");
    let mut status = TaskStatus::new(task_id, State::Succeeded);
    status.video_urls = vec![url];
    Client::new(config(base))
        .unwrap()
        .download(&status, dir.join("v.mp4"), &WaitOptions::new())
}

fn short_receive(c: Config) -> Config {
    c.timeouts(Timeouts::new().receive(Duration::from_millis(300)))
}

#[test]
fn a_relative_redirect_with_a_url_in_its_query_is_followed() {
    let (url, _, heads) = fake_host(redirects_relatively);
    let dir = scratch_dir();
    download_from(|c| c, format!("{url}/a.mp4"), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), b"video");
    assert_eq!(heads.lock().unwrap().len(), 2);
}

#[test]
fn a_host_that_stalls_on_every_connection_ends_after_three_stalls() {
    let (url, connections, _) = fake_host(stalls_mid_body);
    let dir = scratch_dir();
    let err = download_from(short_receive, format!("{url}/v.mp4"), &dir).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some("task-hostile"));
    assert!(err.to_string().contains("stalled 3 times"), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    // The bytes received stay for a later resume; nothing is at the output path.
    let partial = partial_path(&dir, "v.mp4", "task-hostile");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 100);
    assert!(!dir.join("v.mp4").exists());

    // The limit is the caller's.
    let err = download_from(
        |c| short_receive(c).max_download_stalls(1),
        format!("{url}/v.mp4"),
        &scratch_dir(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("stalled 1 times"), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 4);
}

#[test]
fn an_endless_chunked_body_is_stopped_at_the_size_cap_and_removed() {
    let (url, _, _) = fake_host(endless_chunked);
    let dir = scratch_dir();
    let err =
        download_from(|c| c.max_video_bytes(1 << 20), format!("{url}/v.mp4"), &dir).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some("task-hostile"));
    assert!(err.to_string().contains("max_video_bytes"), "{err}");
    assert_dir_holds(&dir, &[]);
}

#[test]
fn a_video_declared_larger_than_the_cap_is_refused_at_once() {
    let emu = Emulator::start_with(EmulatorOptions::new().video_size(3 << 20)).unwrap();
    let mut config = fast_config(Provider::Vidu, emu.base_url(), "k");
    config.max_video_bytes = 1 << 20;
    let dir = scratch_dir();
    let err = Client::new(config)
        .unwrap()
        .generate(&job(), dir.join("v.mp4"), &mut wait_opts())
        .unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert!(err.task_id().is_some(), "{err:?}");
    assert!(err.to_string().contains("3145728 bytes"), "{err}");
    assert_eq!(emu.stats().video_gets, 1, "refused on its Content-Length");
    assert_dir_holds(&dir, &[]);
}

/// Timings at the default settings (30 s receive timeout, 3 stalls, 2 GiB cap), for the
/// record: `cargo test --test download -- --ignored --nocapture`. Writes up to 2 GiB.
#[test]
#[ignore = "slow: about 2 minutes, writes 2 GiB"]
fn hostile_hosts_at_default_settings() {
    let (url, _, _) = fake_host(stalls_mid_body);
    let start = Instant::now();
    let err = download_from(|c| c, format!("{url}/v.mp4"), &scratch_dir()).unwrap_err();
    eprintln!("stalling host: {:?}: {err}", start.elapsed());
    let (url, _, _) = fake_host(endless_chunked);
    let start = Instant::now();
    let err = download_from(|c| c, format!("{url}/v.mp4"), &scratch_dir()).unwrap_err();
    eprintln!("endless host: {:?}: {err}", start.elapsed());
}

#[test]
fn partials_other_tasks_left_for_the_same_output_are_removed_once_it_is_written() {
    let emu = Emulator::start().unwrap();
    let (c, task_id, status) = finished_task(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    let out = dir.join("v.mp4");
    let earlier_task = partial_path(&dir, "v.mp4", "an-earlier-task");
    let earlier_sidecar = earlier_task.with_extension("meta");
    let in_use = partial_path(&dir, "v.mp4", "a-task-another-process-downloads");
    let in_use_sidecar = in_use.with_extension("meta");
    let someone_elses = partial_path(&dir, "w.mp4", "an-earlier-task");
    // The partial of `v.mp4.2`, not of `v.mp4` (issue 13.13); and so is this one, which
    // older versions' `.<name>.<pid>.<random>.part` cannot be told apart from.
    let similar_name = partial_path(&dir, "v.mp4.2", "an-earlier-task");
    let similar_name_sidecar = similar_name.with_extension("meta");
    let older_version_or_similar = dir.join(".v.mp4.4242.0badf00d.part");
    for p in [
        &earlier_task,
        &earlier_sidecar,
        &in_use,
        &in_use_sidecar,
        &someone_elses,
        &similar_name,
        &similar_name_sidecar,
        &older_version_or_similar,
    ] {
        std::fs::write(p, b"stale").unwrap();
    }
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(&in_use)
        .unwrap();
    held.try_lock().unwrap();
    c.download(&status, &out, &WaitOptions::new()).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
    assert!(
        !earlier_task.exists() && !earlier_sidecar.exists(),
        "stale partials removed, with their sidecars"
    );
    assert!(
        in_use.exists() && in_use_sidecar.exists(),
        "a partial another process holds is left alone"
    );
    for p in [
        &someone_elses,
        &similar_name,
        &similar_name_sidecar,
        &older_version_or_similar,
    ] {
        assert!(p.exists(), "another output's partial is left alone: {p:?}");
    }
    assert!(!partial_path(&dir, "v.mp4", &task_id).exists());
    drop(held);
}

// ---- Resume checks identity (issue 13.8) ----

/// One version of the file behind a video URL.
#[derive(Clone)]
struct Version {
    body: Vec<u8>,
    etag: Option<&'static str>,
    last_modified: Option<&'static str>,
}

fn version(
    len: usize,
    seed: u8,
    etag: Option<&'static str>,
    date: Option<&'static str>,
) -> Version {
    Version {
        body: (0..len)
            .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
            .collect(),
        etag,
        last_modified: date,
    }
}

const OLD_DATE: &str = "Wed, 01 Jan 2025 00:00:00 GMT";
const NEW_DATE: &str = "Thu, 02 Jan 2025 00:00:00 GMT";

/// How much of its answer the host sends.
#[derive(Clone, Copy)]
enum Send {
    All,
    /// This many bytes of the body, then the connection is closed.
    CutAfter(usize),
    /// This many bytes of the body, then nothing (a stall) until the client goes.
    StallAfter(usize),
}

/// The value of header `name` in a request head, matched case-insensitively.
fn head_value<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// What a file server answers a GET of `v`: the rest (206) for `Range: bytes=N-`, unless
/// it `honours_if_range` and an `If-Range` names another version (then all of it, 200).
/// Returns the status sent.
fn serve(
    v: &Version,
    head: &str,
    honours_if_range: bool,
    send: Send,
    stream: &mut TcpStream,
) -> u16 {
    let start = head_value(head, "range").and_then(|r| {
        r.strip_prefix("bytes=")?
            .strip_suffix('-')?
            .parse::<usize>()
            .ok()
    });
    let current = |val: &str| Some(val) == v.etag || Some(val) == v.last_modified;
    let start = match head_value(head, "if-range") {
        Some(val) if honours_if_range && !current(val) => None,
        _ => start,
    };
    let total = v.body.len();
    let mut answer = match start {
        Some(s) => format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\nContent-Length: {}\r\n",
            total - 1,
            total - s
        ),
        None => format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n"),
    };
    if let Some(etag) = v.etag {
        answer.push_str(&format!("ETag: {etag}\r\n"));
    }
    if let Some(date) = v.last_modified {
        answer.push_str(&format!("Last-Modified: {date}\r\n"));
    }
    answer.push_str("\r\n");
    let body = &v.body[start.unwrap_or(0)..];
    let _ = stream.write_all(answer.as_bytes());
    match send {
        Send::All => {
            let _ = stream.write_all(body);
        }
        Send::CutAfter(n) => {
            let _ = stream.write_all(&body[..n]);
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Send::StallAfter(n) => {
            let _ = stream.write_all(&body[..n]);
            hold(stream);
        }
    }
    if start.is_some() {
        206
    } else {
        200
    }
}

/// A video host on 127.0.0.1 whose file changes: the first GET gets `first` (sent as
/// `first_send` says), every later one `then`. The log holds each request's head and the
/// status it got.
struct ChangingHost {
    url: String,
    log: Arc<Mutex<Vec<(String, u16)>>>,
}

impl ChangingHost {
    fn start(first: Version, first_send: Send, then: Version, honours_if_range: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v.mp4", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (seen, first, then) = (seen.clone(), first.clone(), then.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut head = String::new();
                        let mut line = String::new();
                        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                            head.push_str(&line);
                            line.clear();
                        }
                        if head.is_empty() {
                            return;
                        }
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push((head.clone(), 0));
                            seen.len()
                        };
                        let status = if n == 1 {
                            serve(&first, &head, honours_if_range, first_send, &mut stream)
                        } else {
                            serve(&then, &head, honours_if_range, Send::All, &mut stream)
                        };
                        seen.lock().unwrap()[n - 1].1 = status;
                    }
                });
            }
        });
        ChangingHost { url, log }
    }

    /// Each request's `Range` and `If-Range`, and the status it got.
    fn requests(&self) -> Vec<(Option<String>, Option<String>, u16)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(head, status)| {
                let value = |name| head_value(head, name).map(str::to_owned);
                (value("range"), value("if-range"), *status)
            })
            .collect()
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// The sidecar beside a partial file: `.part` → `.meta`.
fn sidecar_name(dir: &Path, task_id: &str) -> String {
    let p = partial_path(dir, "v.mp4", task_id);
    p.with_extension("meta")
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_video_changed_under_a_resume_is_fetched_whole_when_the_host_honours_if_range() {
    let old = version(100_000, 7, Some("\"v1\""), None);
    let new = version(100_000, 13, Some("\"v2\""), None);
    let host = ChangingHost::start(old, Send::CutAfter(40_000), new.clone(), true);
    let dir = scratch_dir();
    download_from(|c| c, host.url.clone(), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), new.body);
    assert_eq!(
        host.requests(),
        [
            (None, None, 200),
            (some("bytes=40000-"), some("\"v1\""), 200)
        ]
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_host_that_ignores_if_range_but_names_a_new_etag_is_restarted_from_zero() {
    let old = version(100_000, 7, Some("\"v1\""), None);
    let new = version(100_000, 13, Some("\"v2\""), None);
    let host = ChangingHost::start(old, Send::CutAfter(40_000), new.clone(), false);
    let dir = scratch_dir();
    download_from(|c| c, host.url.clone(), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), new.body);
    assert_eq!(
        host.requests(),
        [
            (None, None, 200),
            (some("bytes=40000-"), some("\"v1\""), 206),
            (None, None, 200)
        ]
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_different_total_in_content_range_restarts_from_zero() {
    // No validators at all: the size is all there is to compare.
    let old = version(100_000, 7, None, None);
    let new = version(120_000, 13, None, None);
    let host = ChangingHost::start(old, Send::CutAfter(40_000), new.clone(), false);
    let dir = scratch_dir();
    download_from(|c| c, host.url.clone(), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), new.body);
    assert_eq!(
        host.requests(),
        [
            (None, None, 200),
            (some("bytes=40000-"), None, 206),
            (None, None, 200)
        ]
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

/// A first run that stalls after 40,000 bytes and gives up (one stall allowed), keeping them.
fn first_run_keeps_40000_bytes(host: &ChangingHost, dir: &Path, old: &Version) {
    let err = download_from(
        |c| short_receive(c).max_download_stalls(1),
        host.url.clone(),
        dir,
    )
    .unwrap_err();
    assert!(err.to_string().contains("stalled 1 times"), "{err}");
    let partial = partial_path(dir, "v.mp4", "task-hostile");
    assert_eq!(std::fs::read(&partial).unwrap(), old.body[..40_000]);
    let mut kept = [
        partial.file_name().unwrap().to_str().unwrap().to_owned(),
        sidecar_name(dir, "task-hostile"),
    ];
    kept.sort();
    let kept: Vec<&str> = kept.iter().map(String::as_str).collect();
    assert_dir_holds(dir, &kept);
}

#[test]
fn a_later_run_sends_the_first_runs_last_modified_and_takes_the_new_video_whole() {
    let old = version(100_000, 7, None, Some(OLD_DATE));
    let new = version(100_000, 13, None, Some(NEW_DATE));
    let host = ChangingHost::start(old.clone(), Send::StallAfter(40_000), new.clone(), true);
    let dir = scratch_dir();
    first_run_keeps_40000_bytes(&host, &dir, &old);
    // Another process (a fresh client) finds the partial file and what its first answer said.
    assert_eq!(
        download_from(|c| c, host.url.clone(), &dir).unwrap(),
        100_000
    );
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), new.body);
    assert_eq!(
        host.requests(),
        [
            (None, None, 200),
            (some("bytes=40000-"), some(OLD_DATE), 200)
        ]
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_later_run_resumes_an_unchanged_video_with_if_range() {
    let old = version(100_000, 7, Some("\"v1\""), Some(OLD_DATE));
    let host = ChangingHost::start(old.clone(), Send::StallAfter(40_000), old.clone(), true);
    let dir = scratch_dir();
    first_run_keeps_40000_bytes(&host, &dir, &old);
    download_from(|c| c, host.url.clone(), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), old.body);
    assert_eq!(
        host.requests(),
        [
            (None, None, 200),
            (some("bytes=40000-"), some("\"v1\""), 206)
        ]
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_later_run_restarts_when_the_etag_changed_behind_a_host_that_ignores_if_range() {
    let old = version(100_000, 7, Some("\"v1\""), None);
    let new = version(100_000, 13, Some("\"v2\""), None);
    let host = ChangingHost::start(old.clone(), Send::StallAfter(40_000), new.clone(), false);
    let dir = scratch_dir();
    first_run_keeps_40000_bytes(&host, &dir, &old);
    download_from(|c| c, host.url.clone(), &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("v.mp4")).unwrap(), new.body);
    assert_eq!(host.requests().len(), 3, "{:?}", host.requests());
    assert_eq!(host.requests()[2], (None, None, 200));
    assert_dir_holds(&dir, &["v.mp4"]);
}

/// A partial file holding the whole video (the run ended between its last byte and the
/// rename), and its sidecar saying that the video has `declared` bytes.
fn complete_partial(declared: usize) -> (Emulator, Client, TaskStatus, PathBuf) {
    let emu = emulator(Scenario::Normal);
    let (c, task_id, status) = finished_task(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    let video = Emulator::video_bytes();
    std::fs::write(partial_path(&dir, "v.mp4", &task_id), video).unwrap();
    let sidecar = dir.join(sidecar_name(&dir, &task_id));
    std::fs::write(sidecar, format!("{{\"total\":{declared}}}")).unwrap();
    (emu, c, status, dir)
}

#[test]
fn a_complete_partial_file_is_finished_on_the_hosts_416_without_fetching_again() {
    let len = Emulator::video_bytes().len();
    let (emu, c, status, dir) = complete_partial(len);
    let bytes = c
        .download(&status, dir.join("v.mp4"), &WaitOptions::new())
        .unwrap();
    assert_eq!(bytes, len as u64);
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    let requests = emu.stats().video_requests;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].status, 416);
    assert_eq!(
        range_header(&requests[0]),
        Some(format!("bytes={len}-").as_str())
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_partial_file_as_long_as_the_video_but_first_declared_longer_is_fetched_again() {
    // The host's 416 says the video has as many bytes as are kept, but the first answer said
    // more: another file now, of the same length by chance.
    let len = Emulator::video_bytes().len();
    let (emu, c, status, dir) = complete_partial(len + 5);
    c.download(&status, dir.join("v.mp4"), &WaitOptions::new())
        .unwrap();
    let requests = emu.stats().video_requests;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].status, 416);
    assert_eq!(range_header(&requests[1]), None);
    assert_eq!(requests[1].status, 200);
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    assert_dir_holds(&dir, &["v.mp4"]);
}

#[test]
fn a_partial_file_without_its_record_is_restarted_not_resumed() {
    // Bytes left by an older version, or whose sidecar was lost: whose video they are is
    // unknown, so they are never the start of this one.
    let emu = emulator(Scenario::Normal);
    let (c, task_id, status) = finished_task(Provider::Vtrix, &emu);
    let dir = scratch_dir();
    std::fs::write(partial_path(&dir, "v.mp4", &task_id), vec![0xAB; 1000]).unwrap();
    c.download(&status, dir.join("v.mp4"), &WaitOptions::new())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    let requests = emu.stats().video_requests;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(range_header(&requests[0]), None);
    assert_dir_holds(&dir, &["v.mp4"]);
}

// ---- Output directories and log records (issue 13.11) ----

#[cfg(target_os = "linux")]
#[test]
fn an_output_directory_that_takes_no_new_files_is_refused_before_the_submit() {
    // /sys takes no new files even from root (CI runs as root; permission bits stop nothing).
    let err = refused_before_the_submit(Path::new("/sys/v.mp4")).to_string();
    assert!(
        err.contains("/sys does not take new files") || err.contains("/sys is on a read-only"),
        "{err}"
    );
    assert!(err.contains("choose another output directory"), "{err}");
}

/// Every record, as (level, target, text).
static RECORDS: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        RECORDS.lock().unwrap().push((
            record.level(),
            record.target().to_owned(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

/// The download room's records about `task_id` so far, as (level, text).
fn records_of(task_id: &str) -> Vec<(log::Level, String)> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, target, text)| {
            target == "vidu::download" && text.starts_with(&format!("task {task_id}:"))
        })
        .map(|(level, _, text)| (*level, text.clone()))
        .collect()
}

#[test]
fn a_resume_a_restart_and_the_written_video_are_logged() {
    use log::Level::Debug;
    records_of("task-logged"); // installs the logger
    let old = version(100_000, 7, Some("\"v1\""), None);
    let new = version(100_000, 13, Some("\"v2\""), None);
    let host = ChangingHost::start(old, Send::CutAfter(40_000), new, false);
    let dir = scratch_dir();
    download_task_from("task-logged", |c| c, host.url.clone(), &dir).unwrap();
    let out = dir.join("v.mp4");
    assert_eq!(
        records_of("task-logged"),
        [
            (
                Debug,
                "task task-logged: resuming the download at byte 40000".into()
            ),
            (
                Debug,
                "task task-logged: restarting the download from byte 0 (had 40000): the \
                 video's ETag changed from \"\\\"v1\\\"\" to \"\\\"v2\\\"\""
                    .into()
            ),
            (
                Debug,
                format!(
                    "task task-logged: video written to {} (100000 bytes)",
                    out.display()
                )
            ),
        ]
    );
}

#[test]
fn an_expired_video_url_is_logged_as_a_warning_without_the_key() {
    records_of(""); // installs the logger
    let emu = emulator(Scenario::ExpiredUrl);
    let (c, task_id, status) = finished_task(Provider::Vidu, &emu);
    let dir = scratch_dir();
    c.download(&status, dir.join("v.mp4"), &WaitOptions::new())
        .unwrap();
    let records = records_of(&task_id);
    assert!(
        records.contains(&(
            log::Level::Warn,
            format!("task {task_id}: the video URL expired (HTTP 403); fetching a fresh one")
        )),
        "{records:?}"
    );
    assert!(
        records.iter().all(|(_, text)| !text.contains("test-key")),
        "{records:?}"
    );
}
