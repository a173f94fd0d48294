//! Real networks: every call over HTTPS with a CA made at test time, proxies from the
//! environment, certificate errors that say nothing was sent, and the bound on an API answer.
#![cfg(feature = "emulator")]

mod common;
#[path = "common/tls.rs"]
mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::emulated::{fast_config, job, wait_opts};
use common::{assert_dir_holds, scratch_dir, temp_path};
use tls::{ConnectProxy, TestCa, TlsFront, Validity};
use vidu::emulator::{Effect, Emulator, EmulatorOptions, Fault, Route};
use vidu::{Client, Config, Error, ErrorKind, Provider, TaskQuery, Timeouts, TrustStore};

const KEY: &str = "sk-the-real-key";

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

fn emulator(options: EmulatorOptions) -> Emulator {
    Emulator::start_with(options.api_key(KEY).polls_per_state(0)).unwrap()
}

/// The emulator's API origin behind a TLS front whose certificate `ca` signed.
fn tls_front(emu: &Emulator, ca: &TestCa, validity: Validity) -> TlsFront {
    TlsFront::start(addr_of(&emu.base_url()), ca.server_cert(validity))
}

fn config(provider: Provider, base_url: String) -> Config {
    let mut c = fast_config(provider, base_url, KEY);
    c.retry.max_attempts = 2;
    c
}

#[test]
fn every_call_of_every_provider_goes_over_tls_with_a_custom_ca_and_the_real_key() {
    let ca = TestCa::new("vidu test CA");
    let ca_file = temp_path("every-call-ca.pem");
    ca.write_pem(&ca_file);
    for &provider in Provider::ALL {
        let emu = emulator(EmulatorOptions::new());
        let front = tls_front(&emu, &ca, Validity::Good);
        // The three ways to trust the CA, one per provider.
        let c = config(provider, front.url());
        let c = match provider {
            Provider::UModelVerse => c.ca_file(&ca_file),
            Provider::Vtrix => c.ca_pem(ca.pem.clone()).trust_store(TrustStore::CaOnly),
            _ => c.ca_pem(ca.pem.clone()),
        };
        let client = Client::new(c).unwrap();
        let task_id = client.submit(&job()).unwrap();
        let status = client.status(&task_id).unwrap();
        assert!(status.state.is_terminal(), "{provider}: {status:?}");
        let stats = emu.stats();
        assert_eq!((stats.submits, stats.status_polls), (1, 1), "{provider}");
        if provider == Provider::Vidu {
            client.credits().unwrap();
            let page = client.tasks(&TaskQuery::new()).unwrap();
            assert!(page.tasks.iter().any(|t| t.task_id == task_id));
            client.cancel(&task_id).unwrap_or_else(|e| {
                // A finished task may refuse to be cancelled: that answer still came over TLS.
                assert_eq!(e.kind(), ErrorKind::Api, "{e}");
            });
            let stats = emu.stats();
            assert_eq!((stats.credits_calls, stats.list_calls), (1, 1));
            assert_eq!(stats.cancels, 1);
        }
        // The emulator accepts only the real key: every call above carried it. The submit's
        // header is recorded whole.
        let sent = emu.stats().last_submit.unwrap().authorization;
        let expected = match provider {
            Provider::UModelVerse => KEY.to_owned(),
            Provider::Vtrix => format!("Bearer {KEY}"),
            _ => format!("Token {KEY}"),
        };
        assert_eq!(sent, expected, "{provider}");
        assert!(front.handshakes.load(Ordering::SeqCst) >= 1);
    }
    std::fs::remove_file(ca_file).unwrap();
}

#[test]
fn generate_over_tls_downloads_the_video() {
    let ca = TestCa::new("vidu test CA");
    let emu = emulator(EmulatorOptions::new());
    let front = tls_front(&emu, &ca, Validity::Good);
    let client = Client::new(config(Provider::Vidu, front.url()).ca_pem(ca.pem.clone())).unwrap();
    let dir = scratch_dir();
    client
        .generate(&job(), dir.join("v.mp4"), &mut wait_opts())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    assert_dir_holds(&dir, &["v.mp4"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_video_on_a_tls_cdn_of_another_origin_gets_no_authorization() {
    let ca = TestCa::new("vidu test CA");
    let emu = emulator(EmulatorOptions::new());
    let api = tls_front(&emu, &ca, Validity::Good);
    let cdn = TlsFront::start(
        addr_of(&emu.video_base_url()),
        ca.server_cert(Validity::Good),
    );
    let client = Client::new(config(Provider::Vtrix, api.url()).ca_pem(ca.pem.clone())).unwrap();
    let task_id = client.submit(&job()).unwrap();
    let mut status = client.wait(&task_id, &mut wait_opts()).unwrap();
    // The same video, served over TLS from another origin (a CDN).
    let plain = status.video_urls[0].clone();
    let on_cdn = plain.replace(&emu.video_base_url(), &cdn.url());
    assert!(on_cdn.starts_with("https://") && on_cdn != plain);
    status.video_urls = vec![on_cdn];
    let dir = scratch_dir();
    let bytes = client
        .download(&status, dir.join("v.mp4"), &wait_opts())
        .unwrap();
    assert_eq!(bytes, Emulator::video_bytes().len() as u64);
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    assert!(
        cdn.handshakes.load(Ordering::SeqCst) >= 1,
        "went through the CDN"
    );
    let gets = emu.stats().video_requests;
    assert!(!gets.is_empty());
    for get in gets {
        assert_eq!(get.header("authorization"), None, "{get:?}");
        assert!(!format!("{get:?}").contains(KEY));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// What each bad certificate must say, and that nothing reached the server.
#[test]
fn untrusted_expired_and_wrong_host_certificates_fail_before_anything_is_sent() {
    let ca = TestCa::new("vidu test CA");
    let cases = [
        // Not given the CA: the bundled roots do not know it.
        (Validity::Good, false, "--ca-file FILE"),
        (Validity::Expired, true, "clock"),
        (Validity::WrongHost, true, "host name"),
    ];
    for (validity, trusted, hint) in cases {
        let emu = emulator(EmulatorOptions::new());
        let front = tls_front(&emu, &ca, validity);
        let mut c = config(Provider::Vidu, front.url());
        if trusted {
            c = c.ca_pem(ca.pem.clone());
        }
        let client = Client::new(c).unwrap();
        let submit = client.submit(&job()).unwrap_err();
        let status = client.status("task-1").unwrap_err();
        for (err, operation) in [(submit, "submit"), (status, "status")] {
            let msg = err.to_string();
            // A certificate is refused in the handshake, before any request byte: a submit
            // is certainly not sent, not "uncertain".
            assert_eq!(err.kind(), ErrorKind::Transport, "{validity:?}: {msg}");
            assert!(
                matches!(&err, Error::Transport { operation: o, .. } if *o == operation),
                "{err:?}"
            );
            assert!(msg.contains("nothing was sent"), "{validity:?}: {msg}");
            assert!(msg.contains(hint), "{validity:?}: {msg}");
            assert!(!msg.contains("billed"), "{validity:?}: {msg}");
        }
        let stats = emu.stats();
        assert_eq!(
            stats.submit_requests + stats.status_polls,
            0,
            "{validity:?}"
        );
        assert_eq!(front.handshakes.load(Ordering::SeqCst), 0, "{validity:?}");
        assert!(
            front.connections.load(Ordering::SeqCst) >= 2,
            "{validity:?}"
        );
    }
}

#[test]
fn a_ca_is_trusted_added_to_the_bundle_or_alone_and_an_unrelated_one_is_not() {
    // The front's certificate is signed by `ca`. (That the bundled roots stay when a CA is
    // added is checked in src/transport.rs: no public server is reachable from the tests.)
    let ca = TestCa::new("vidu test CA");
    let other = TestCa::new("another CA");
    let emu = emulator(EmulatorOptions::new());
    let front = tls_front(&emu, &ca, Validity::Good);
    for (store, pem, ok) in [
        (TrustStore::Bundled, &ca.pem, true),
        (TrustStore::CaOnly, &ca.pem, true),
        (TrustStore::CaOnly, &other.pem, false),
        (TrustStore::Bundled, &other.pem, false),
    ] {
        let c = config(Provider::Vidu, front.url())
            .trust_store(store)
            .ca_pem(pem.clone());
        let got = Client::new(c).unwrap().credits();
        assert_eq!(got.is_ok(), ok, "{store:?}: {got:?}");
    }
}

#[test]
fn a_bad_ca_file_is_invalid_input_naming_the_file_before_anything_is_sent() {
    let emu = emulator(EmulatorOptions::new());
    let missing = temp_path("no-such-ca.pem");
    let garbage = temp_path("garbage-ca.pem");
    std::fs::write(&garbage, "this is not PEM at all\n").unwrap();
    let broken = temp_path("broken-ca.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cases: Vec<(Config, &str, String, &str)> = vec![
        (
            Config::new(Provider::Vidu, KEY).ca_file(&missing),
            "ca_file",
            missing.display().to_string(),
            "reading it failed",
        ),
        (
            Config::new(Provider::Vidu, KEY).ca_file(&garbage),
            "ca_file",
            garbage.display().to_string(),
            "holds no certificate",
        ),
        (
            Config::new(Provider::Vidu, KEY).ca_file(&broken),
            "ca_file",
            broken.display().to_string(),
            "certificate 1 of 1 is not a usable CA certificate",
        ),
        (
            Config::new(Provider::Vidu, KEY).ca_pem(Vec::new()),
            "ca_pem",
            "<0 bytes>".into(),
            "holds no certificate",
        ),
        (
            Config::new(Provider::Vidu, KEY).trust_store(TrustStore::CaOnly),
            "ca_certificates",
            "none".into(),
            "ca-only",
        ),
        (
            Config::new(Provider::Vidu, KEY)
                .trust_store(TrustStore::System)
                .ca_pem(TestCa::new("x").pem),
            "ca_certificates",
            "set".into(),
            "system",
        ),
    ];
    for (c, field, value, what) in cases {
        let c = c.base_url(emu.base_url());
        let err = Client::new(c.clone()).unwrap_err();
        let again = c.validate().unwrap_err();
        assert_eq!(err.to_string(), again.to_string());
        match &err {
            Error::InvalidInput {
                field: f, value: v, ..
            } => assert_eq!((*f, v.as_str()), (field, value.as_str()), "{err}"),
            other => panic!("{field}: {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(what), "{msg}");
        assert!(msg.contains("nothing was sent"), "{msg}");
    }
    assert_eq!(emu.stats().api_connections, 0);
    std::fs::remove_file(garbage).unwrap();
    std::fs::remove_file(broken).unwrap();
}

#[test]
fn the_system_store_needs_its_feature() {
    let c = Config::new(Provider::Vidu, KEY).trust_store(TrustStore::System);
    if cfg!(feature = "platform-verifier") {
        // Built with it: the OS store is taken (a client is made; what the OS trusts is the
        // OS's business).
        Client::new(c).unwrap();
    } else {
        let err = Client::new(c).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidInput {
                    field: "trust_store",
                    value,
                    ..
                } if value == "system"
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("platform-verifier"), "{err}");
    }
}

/// A server that answers every request with a 200 whose body comes one byte every `gap`:
/// each byte inside the receive timeout, the whole far past the request bound. Counts the
/// requests and the bytes sent.
struct Trickler {
    addr: SocketAddr,
    requests: Arc<AtomicU32>,
    bytes_sent: Arc<AtomicU32>,
    body_len: u32,
}

impl Trickler {
    fn start(gap: Duration, body: &'static str) -> Trickler {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU32::new(0));
        let bytes_sent = Arc::new(AtomicU32::new(0));
        let (r, b) = (requests.clone(), bytes_sent.clone());
        // Detached: it ends when the client hangs up on its last connection and the test
        // process's listener is closed with it.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let (r, b) = (r.clone(), b.clone());
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    let start = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n\r\n",
                        body.len()
                    );
                    if conn.write_all(start.as_bytes()).is_err() {
                        return;
                    }
                    for byte in body.as_bytes() {
                        std::thread::sleep(gap);
                        if conn.write_all(&[*byte]).is_err() {
                            return;
                        }
                        b.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Trickler {
            addr,
            requests,
            bytes_sent,
            body_len: body.len() as u32,
        }
    }
}

#[test]
fn a_trickled_status_answer_ends_with_a_transient_timeout_within_the_request_bound() {
    // A valid answer: without the bound the poll would succeed, after about 6 s.
    const BODY: &str = r#"{"id":"task-1","state":"processing","err_code":"","creations":[],"padding":"................................................................................................................................................................................................................................................................................."}"#;
    let ca = TestCa::new("vidu test CA");
    for over_tls in [false, true] {
        let trickler = Trickler::start(Duration::from_millis(20), BODY);
        let plain = format!("http://{}", trickler.addr);
        let front =
            over_tls.then(|| TlsFront::start(trickler.addr, ca.server_cert(Validity::Good)));
        let url = front.as_ref().map_or(plain, |f| f.url());
        let mut c = config(Provider::Vidu, url).ca_pem(ca.pem.clone()).timeouts(
            Timeouts::new()
                .receive(Duration::from_secs(5))
                .request(Duration::from_millis(300)),
        );
        c.retry.max_attempts = 2;
        let err = Client::new(c).unwrap().status("task-1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        match &err {
            Error::Transport {
                source, task_id, ..
            } => {
                assert!(source.is_timeout(), "{err}");
                assert_eq!(task_id.as_deref(), Some("task-1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("timeouts.request"), "{err}");
        // Transient: the poll was tried again, and each try was cut short.
        assert_eq!(
            trickler.requests.load(Ordering::SeqCst),
            2,
            "tls {over_tls}"
        );
        let sent = trickler.bytes_sent.load(Ordering::SeqCst);
        assert!(sent < trickler.body_len, "tls {over_tls}: {sent} bytes");
    }
}

#[test]
fn the_request_bound_is_for_api_answers_not_for_the_video_download() {
    // Both the status answer and the video arrive after the same stall, longer than the
    // bound and shorter than the receive timeout.
    let stall = Duration::from_millis(600);
    let emu = emulator(
        EmulatorOptions::new()
            .fault(Fault::on(Route::Video).effect(Effect::Stall(stall)))
            .fault(Fault::on(Route::Status).nth(2).effect(Effect::Stall(stall))),
    );
    let mut c = config(Provider::Vidu, emu.base_url()).timeouts(
        Timeouts::new()
            .receive(Duration::from_secs(5))
            .request(Duration::from_millis(200)),
    );
    c.retry.max_attempts = 1;
    let client = Client::new(c).unwrap();
    let task_id = client.submit(&job()).unwrap();
    let status = client.status(&task_id).unwrap();
    let dir = scratch_dir();
    client
        .download(&status, dir.join("v.mp4"), &wait_opts())
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("v.mp4")).unwrap(),
        Emulator::video_bytes()
    );
    std::fs::remove_dir_all(dir).unwrap();
    // A stall, not a trickle: the read itself is cut at the bound, and says so.
    let err = client.status(&task_id).unwrap_err();
    assert!(
        matches!(&err, Error::Transport { source, .. } if source.is_timeout()),
        "{err:?}"
    );
    assert!(err.to_string().contains("timeouts.request"), "{err}");
}

/// Environment of a child run of this test binary: the proxy variables under test, and none
/// of the others (the parent's environment may have any).
fn child(test: &str, envs: &[(&str, String)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CHILD-DONE"),
        "the child ran nothing:\n{stdout}"
    );
    stdout
}

/// The child's side: the calls of the official API, through whatever proxy the environment
/// names (ureq reads it when the client is made; the child's environment is set at spawn, so
/// no test races another over `set_var`).
fn child_calls() -> bool {
    let Ok(base_url) = std::env::var("VIDU_TEST_CHILD_BASE_URL") else {
        return false;
    };
    let mut c = config(Provider::Vidu, base_url).proxy_from_env(true);
    if let Ok(ca) = std::env::var("VIDU_TEST_CHILD_CA") {
        c = c.ca_file(ca);
    }
    let client = Client::new(c).unwrap();
    let task_id = client.submit(&job()).unwrap();
    client.status(&task_id).unwrap();
    client.credits().unwrap();
    println!("CHILD-DONE");
    true
}

/// Checks what the proxy saw: one CONNECT per connection to `target`, none with a key.
fn proxy_saw_only_connects(proxy: &ConnectProxy, target: SocketAddr) {
    let heads = proxy.heads.lock().unwrap().clone();
    assert!(!heads.is_empty(), "nothing went through the proxy");
    for head in heads {
        assert!(
            head.starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );
        assert!(!head.contains(KEY), "{head}");
    }
}

#[test]
fn https_proxy_from_the_environment_tunnels_tls_and_never_sees_the_key() {
    if child_calls() {
        return;
    }
    let ca = TestCa::new("vidu test CA");
    let ca_file = temp_path("https-proxy-ca.pem");
    ca.write_pem(&ca_file);
    let emu = emulator(EmulatorOptions::new());
    let front = tls_front(&emu, &ca, Validity::Good);
    let proxy = ConnectProxy::start();
    child(
        "https_proxy_from_the_environment_tunnels_tls_and_never_sees_the_key",
        &[
            ("HTTPS_PROXY", proxy.url()),
            ("VIDU_TEST_CHILD_BASE_URL", front.url()),
            ("VIDU_TEST_CHILD_CA", ca_file.display().to_string()),
        ],
    );
    proxy_saw_only_connects(&proxy, front.addr());
    let stats = emu.stats();
    assert_eq!((stats.submits, stats.credits_calls), (1, 1));
    assert_eq!(
        stats.last_submit.unwrap().authorization,
        format!("Token {KEY}")
    );
    assert!(front.handshakes.load(Ordering::SeqCst) >= 1);
    std::fs::remove_file(ca_file).unwrap();
}

#[test]
fn http_proxy_from_the_environment_carries_plain_loopback() {
    if child_calls() {
        return;
    }
    let emu = emulator(EmulatorOptions::new());
    let proxy = ConnectProxy::start();
    child(
        "http_proxy_from_the_environment_carries_plain_loopback",
        &[
            ("HTTP_PROXY", proxy.url()),
            ("VIDU_TEST_CHILD_BASE_URL", emu.base_url()),
        ],
    );
    proxy_saw_only_connects(&proxy, addr_of(&emu.base_url()));
    assert_eq!(emu.stats().submits, 1);
}

#[test]
fn without_proxy_from_env_the_proxy_variables_are_ignored() {
    if std::env::var("VIDU_TEST_CHILD_NO_PROXY").is_ok() {
        let base_url = std::env::var("VIDU_TEST_CHILD_BASE_URL").unwrap();
        let client = Client::new(config(Provider::Vidu, base_url)).unwrap();
        client.credits().unwrap();
        println!("CHILD-DONE");
        return;
    }
    let emu = emulator(EmulatorOptions::new());
    let proxy = ConnectProxy::start();
    child(
        "without_proxy_from_env_the_proxy_variables_are_ignored",
        &[
            ("HTTPS_PROXY", proxy.url()),
            ("VIDU_TEST_CHILD_NO_PROXY", "1".into()),
            ("VIDU_TEST_CHILD_BASE_URL", emu.base_url()),
        ],
    );
    assert!(proxy.heads.lock().unwrap().is_empty());
    assert_eq!(emu.stats().credits_calls, 1);
}

#[cfg(feature = "capi")]
mod c_api {
    use super::common::ffi::{config_is_rejected, failure, zeroed_config};
    use super::*;
    use std::ffi::CString;
    use vidu::ffi::*;

    fn c_config(key: &CString, url: &CString) -> vidu_config {
        let mut c = zeroed_config();
        c.provider = VIDU_PROVIDER_VIDU;
        c.api_key = key.as_ptr();
        c.base_url = url.as_ptr();
        c.retry_max_attempts = 1;
        c
    }

    #[test]
    fn c_trust_fields_are_checked_and_used() {
        let ca = TestCa::new("vidu test CA");
        let emu = emulator(EmulatorOptions::new());
        let front = tls_front(&emu, &ca, Validity::Good);
        let key = CString::new(KEY).unwrap();
        let url = CString::new(front.url()).unwrap();

        let mut bad = c_config(&key, &url);
        bad.trust_store = 7;
        config_is_rejected(&bad, "config->trust_store");
        let missing = CString::new("/no/such/ca.pem").unwrap();
        let mut bad = c_config(&key, &url);
        bad.ca_file = missing.as_ptr();
        config_is_rejected(&bad, "/no/such/ca.pem");
        let mut bad = c_config(&key, &url);
        bad.ca_file = missing.as_ptr();
        bad.ca_pem = ca.pem.as_ptr();
        bad.ca_pem_len = ca.pem.len();
        config_is_rejected(&bad, "config->ca_file");
        let mut bad = c_config(&key, &url);
        bad.request_timeout_secs = -1.0;
        config_is_rejected(&bad, "config->request_timeout_secs");

        // Untrusted without the CA; trusted, alone, with it.
        let c = c_config(&key, &url);
        let mut client = std::ptr::null_mut();
        common::ffi::success(|err| unsafe { vidu_client_new(&c, &mut client, err) });
        let mut credits = common::ffi::sized::<vidu_credits>();
        let err = failure(VIDU_ERROR_TRANSPORT, |err| unsafe {
            vidu_client_credits(client, &mut credits, err)
        });
        assert!(
            err.message().contains("nothing was sent"),
            "{}",
            err.message()
        );
        unsafe { vidu_client_free(client) };

        let mut c = c_config(&key, &url);
        c.trust_store = VIDU_TRUST_CA_ONLY;
        c.ca_pem = ca.pem.as_ptr();
        c.ca_pem_len = ca.pem.len();
        let mut client = std::ptr::null_mut();
        common::ffi::success(|err| unsafe { vidu_client_new(&c, &mut client, err) });
        common::ffi::success(|err| unsafe { vidu_client_credits(client, &mut credits, err) });
        unsafe { vidu_client_free(client) };
        assert_eq!(emu.stats().credits_calls, 1);
    }
}
