//! The programs of `benches/tls.sh` (one binary, one subcommand each). Each prints
//! `key=value` lines. The server side (emulator and TLS fronts) runs in its own process.
//!
//! ```text
//! vidu-tls-bench serve --video-size BYTES --ca-out PATH   # until stdin closes
//! vidu-tls-bench submit --base-url URL [--ca-file PATH] --image PATH
//! vidu-tls-bench download --base-url URL [--ca-file PATH] --video-from URL --video-to URL --out PATH
//! vidu-tls-bench video-url --base-url URL [--ca-file PATH] --video-from URL --video-to URL
//! vidu-tls-bench roots-bytes                               # DER bytes of the bundled roots
//! ```

// The test suite's TLS front and CA, used as they are.
#[allow(dead_code)]
#[path = "../../tests/common/tls.rs"]
mod tls;

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use vidu::emulator::{Emulator, EmulatorOptions};
use vidu::{Client, Config, Job, Provider, WaitOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
    let flags: HashMap<String, String> = args[1..]
        .chunks(2)
        .map(|p| (p[0].trim_start_matches("--").to_owned(), p[1].clone()))
        .collect();
    let get = |k: &str| flags.get(k).map(String::as_str);
    let need = |k: &str| get(k).unwrap_or_else(|| panic!("--{k} is needed"));
    match command.as_str() {
        "serve" => serve(need("video-size").parse().unwrap(), need("ca-out")),
        "submit" => {
            let client = client(need("base-url"), get("ca-file"));
            let start = Instant::now();
            client
                .submit(&Job::new(std::path::Path::new(need("image"))))
                .expect("submit");
            println!("secs={:.6}", start.elapsed().as_secs_f64());
        }
        "download" => {
            let client = client(need("base-url"), get("ca-file"));
            let status = finished(&client, need("video-from"), need("video-to"));
            let start = Instant::now();
            let bytes = client
                .download(&status, need("out"), &WaitOptions::new())
                .expect("download");
            let secs = start.elapsed().as_secs_f64();
            println!("bytes={bytes}\nsecs={secs:.6}");
        }
        "video-url" => {
            let client = client(need("base-url"), get("ca-file"));
            let status = finished(&client, need("video-from"), need("video-to"));
            println!("video_url={}", status.video_urls[0]);
        }
        "roots-bytes" => {
            let der: usize = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|c| c.as_ref().len())
                .sum();
            println!(
                "roots={}\nder_bytes={der}",
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
            );
        }
        _ => panic!("unknown command {command:?}: see benches/tls/main.rs"),
    }
}

fn client(base_url: &str, ca_file: Option<&str>) -> Client {
    let mut config = Config::new(Provider::UModelVerse, "bench")
        .base_url(base_url)
        .proxy_from_env(false);
    if let Some(ca) = ca_file {
        config = config.ca_file(ca);
    }
    config.poll.first = Duration::from_millis(5);
    config.poll.max = Duration::from_millis(5);
    Client::new(config).expect("client")
}

/// A finished task's status, its video URL moved from the plain video origin (`from`) to
/// `to` (the TLS front of the same origin, or itself).
fn finished(client: &Client, from: &str, to: &str) -> vidu::TaskStatus {
    let task_id = client
        .submit(&Job::new("https://example.com/cat.png"))
        .expect("submit");
    let mut options = WaitOptions::new().timeout(Some(Duration::from_secs(60)));
    let mut status = client.wait(&task_id, &mut options).expect("task done");
    status.video_urls = vec![status.video_urls[0].replace(from, to)];
    status
}

/// The emulator, and a TLS front (certificate of a CA made here, written to `ca_out`) before
/// its API origin and before its video origin.
fn serve(video_size: u64, ca_out: &str) {
    let emu = Emulator::start_with(
        EmulatorOptions::new()
            .polls_per_state(0)
            .video_size(video_size),
    )
    .expect("emulator");
    let ca = tls::TestCa::new("vidu bench CA");
    ca.write_pem(std::path::Path::new(ca_out));
    let addr = |url: String| url.trim_start_matches("http://").parse().unwrap();
    let api = tls::TlsFront::start(addr(emu.base_url()), ca.server_cert(tls::Validity::Good));
    let video = tls::TlsFront::start(
        addr(emu.video_base_url()),
        ca.server_cert(tls::Validity::Good),
    );
    println!(
        "PLAIN_URL={}\nTLS_URL={}\nVIDEO_PLAIN={}\nVIDEO_TLS={}",
        emu.base_url(),
        api.url(),
        emu.video_base_url(),
        video.url()
    );
    // Serves until the script closes stdin.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
