//! Throughput of the streamed data URI (what a submit body costs in CPU) against a plain copy
//! and a naive one-shot base64 string. Prints a table; compare the ratios of one run.
//!     cargo bench --bench data_uri

use std::io::Read;
use std::time::Instant;

use base64::Engine;
use vidu::image::{DataUriReader, ImageFormat};

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    let size = 40 * 1024 * 1024;
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut sink = vec![0u8; 64 * 1024];

    let (copy, _) = best_of(5, || {
        let mut src = &data[..];
        let mut n = 0;
        while let Ok(k) = src.read(std::hint::black_box(&mut sink)) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let (stream, streamed) = best_of(5, || {
        let mut r = DataUriReader::new(ImageFormat::Png, &data[..]);
        let mut n = 0;
        while let Ok(k) = r.read(&mut sink) {
            if k == 0 {
                break;
            }
            n += k;
        }
        n
    });
    let (naive, naive_len) = best_of(5, || {
        let s = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&data)
        );
        s.len()
    });
    assert_eq!(streamed, naive_len);

    let mb = size as f64 / 1e6;
    println!(
        "{:<44} {:>10} {:>10} {:>14}",
        "40 MB image", "ms", "MB/s", "extra memory"
    );
    println!(
        "{:<44} {:>10.1} {:>10.0} {:>14}",
        "read in 64 KiB chunks (floor)",
        copy * 1e3,
        mb / copy,
        "64 KiB"
    );
    println!(
        "{:<44} {:>10.1} {:>10.0} {:>14}",
        "DataUriReader (streamed, SIMD)",
        stream * 1e3,
        mb / stream,
        "~112 KiB"
    );
    println!(
        "{:<44} {:>10.1} {:>10.0} {:>14}",
        "naive format!(base64 STANDARD.encode)",
        naive * 1e3,
        mb / naive,
        format!("{} MiB", naive_len / (1024 * 1024))
    );
    println!("streamed / naive time ratio: {:.2}", stream / naive);
}
