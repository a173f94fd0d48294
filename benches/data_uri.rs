//! Body encoding throughput: what streaming an inline image as a data URI costs in CPU,
//! against the floor (a copy through the same 64 KiB buffer) and the base64 crate's scalar
//! engine. Every figure is per byte of image (input), so the ratios compare directly.
//!     cargo bench -p vidu-benches --bench data_uri   (benches/run.sh parses the median column)

use std::io::Read;

use base64::Engine;
use divan::counter::BytesCount;
use divan::Bencher;
use vidu::fuzzing::data_uri_reader;
use vidu::ImageFormat;

/// The size of the inline-image row of BENCHMARKS.md (and larger than the caches).
const IMAGE: usize = 40 * 1000 * 1000;
/// The size of the buffer an HTTP body is read through.
const SINK: usize = 64 * 1024;

fn main() {
    divan::main();
}

fn image() -> Vec<u8> {
    (0..IMAGE).map(|i| (i * 31 % 251) as u8).collect()
}

/// Reads `source` to the end through a 64 KiB buffer; returns the byte count.
fn drain(mut source: impl Read, sink: &mut [u8]) -> usize {
    let mut n = 0;
    loop {
        match source.read(divan::black_box(&mut *sink)) {
            Ok(0) | Err(_) => return n,
            Ok(k) => n += k,
        }
    }
}

/// memcpy of the same size: the whole image into a buffer made beforehand.
#[divan::bench(sample_count = 30)]
fn memcpy(b: Bencher) {
    let data = image();
    let mut out = vec![0u8; IMAGE];
    b.counter(BytesCount::new(IMAGE))
        .bench_local(|| divan::black_box(&mut out[..]).copy_from_slice(&data));
}

/// A stricter floor: the image read through a 64 KiB buffer that stays in cache (the streamed
/// reader's access pattern, without the encoding).
#[divan::bench(sample_count = 30)]
fn memcpy_64k(b: Bencher) {
    let data = image();
    let mut sink = vec![0u8; SINK];
    b.counter(BytesCount::new(IMAGE))
        .bench_local(|| drain(&data[..], &mut sink));
}

/// What a submit does: `data:image/png;base64,...` streamed chunk by chunk.
#[divan::bench(sample_count = 30)]
fn data_uri_streamed(b: Bencher) {
    let data = image();
    let mut sink = vec![0u8; SINK];
    b.counter(BytesCount::new(IMAGE))
        .bench_local(|| drain(data_uri_reader(ImageFormat::Png, &data[..]), &mut sink));
}

/// The base64 crate's scalar engine encoding the whole image into a buffer made beforehand.
#[divan::bench(sample_count = 30)]
fn base64_scalar(b: Bencher) {
    let data = image();
    let mut out = vec![0u8; IMAGE.div_ceil(3) * 4];
    b.counter(BytesCount::new(IMAGE)).bench_local(|| {
        base64::engine::general_purpose::STANDARD
            .encode_slice(&data, divan::black_box(&mut out[..]))
            .unwrap()
    });
}
