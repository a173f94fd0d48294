//! Image sniffing and header parsing, through the public API (`vidu::image`). The streamed data
//! URI is tested in `src/image.rs`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::images::*;
use vidu::image::{inspect_bytes, inspect_path};
use vidu::{Error, ImageFormat};

fn dims(bytes: &[u8]) -> (ImageFormat, u32, u32) {
    let i = inspect_bytes(bytes).unwrap();
    assert_eq!(i.byte_len, bytes.len() as u64);
    (i.format, i.width, i.height)
}

fn field(e: Error) -> &'static str {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = common::temp_path(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn reads_dimensions_of_each_format() {
    assert_eq!(dims(&png(256, 192)), (ImageFormat::Png, 256, 192));
    assert_eq!(dims(&png(100_000, 3)), (ImageFormat::Png, 100_000, 3));
    assert_eq!(dims(&jpeg(640, 480)), (ImageFormat::Jpeg, 640, 480));
    assert_eq!(dims(&jpeg(65535, 1)), (ImageFormat::Jpeg, 65535, 1));
    assert_eq!(dims(&webp_lossy(160, 90)), (ImageFormat::Webp, 160, 90));
    assert_eq!(dims(&webp_lossy(16383, 1)), (ImageFormat::Webp, 16383, 1));
    assert_eq!(
        dims(&webp_lossless(1, 16384)),
        (ImageFormat::Webp, 1, 16384)
    );
    assert_eq!(
        dims(&webp_lossless(300, 200)),
        (ImageFormat::Webp, 300, 200)
    );
    assert_eq!(
        dims(&webp_extended(1 << 24, 5000)),
        (ImageFormat::Webp, 1 << 24, 5000)
    );
}

#[test]
fn jpeg_fill_bytes_and_standalone_markers_are_skipped() {
    let j = jpeg(320, 240);
    let mut odd = vec![0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0x01, 0xFF, 0xD0];
    odd.extend(std::iter::repeat_n(0xFF, 40));
    odd.extend_from_slice(&j[2..]);
    assert_eq!(dims(&odd), (ImageFormat::Jpeg, 320, 240));
    // Fill runs of every length around the read-buffer size, before each segment.
    for fills in 0..40 {
        let run = vec![0xFF; fills];
        let mut padded = vec![0xFF, 0xD8];
        let app0 = &j[2..20];
        padded.extend_from_slice(&run);
        padded.extend_from_slice(app0);
        padded.extend_from_slice(&run);
        padded.extend_from_slice(&j[20..]);
        assert_eq!(
            dims(&padded),
            (ImageFormat::Jpeg, 320, 240),
            "{fills} fill bytes"
        );
    }
    // DHT (C4) before the frame header is skipped, not taken for a SOF.
    let mut dht = vec![0xFF, 0xD8, 0xFF, 0xC4, 0, 4, 0xAA, 0xBB];
    dht.extend_from_slice(&j[2..]);
    assert_eq!(dims(&dht), (ImageFormat::Jpeg, 320, 240));
    // Progressive (SOF2) is a frame header too.
    let mut prog = j.clone();
    let at = prog.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    prog[at + 1] = 0xC2;
    assert_eq!(dims(&prog), (ImageFormat::Jpeg, 320, 240));
}

#[test]
fn jpeg_with_big_exif_is_read_from_a_file_by_seeking() {
    // Sixteen 64 KB APP1 blocks (about 1 MB to seek over) before the frame header.
    let app1 = &jpeg_with_app1(1, 1, 65_000)[20..20 + 65_004];
    let mut many = vec![0xFF, 0xD8];
    for _ in 0..16 {
        many.extend_from_slice(app1);
    }
    many.extend_from_slice(&jpeg_with_app1(1920, 1080, 65_000)[2..]);
    let path = temp_file("exif.jpg", &many);
    let info = inspect_path(&path).unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
    assert_eq!(info.byte_len, many.len() as u64);
}

#[test]
fn path_errors() {
    let missing = Path::new("/nonexistent/vidu/cat.png");
    match inspect_path(missing).unwrap_err() {
        Error::Io { action, path, .. } => {
            assert_eq!(action, "reading the image");
            assert_eq!(path, missing);
        }
        other => panic!("{other:?}"),
    }
    let gif = temp_file("cat.png", b"GIF89a\x10\0\x10\0\0\0\0");
    let e = inspect_path(&gif).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("cat.png") && text.contains("GIF"), "{text}");
    assert!(text.contains("checked by its content"), "{text}");
    assert_eq!(field(e), "image");
    let png_as_jpg = temp_file("cat.jpg", &png(300, 200));
    assert_eq!(inspect_path(&png_as_jpg).unwrap().format, ImageFormat::Png);
    let empty = temp_file("empty.webp", b"");
    assert!(inspect_path(&empty)
        .unwrap_err()
        .to_string()
        .contains("empty"));
}

#[test]
fn wrong_magic_is_invalid_input() {
    for bytes in [
        &b"GIF89a"[..],
        b"",
        b"hello world",
        b"BM\0\0\0\0",
        b"RIFF\0\0\0\0AVI ",
    ] {
        let e = inspect_bytes(bytes).unwrap_err();
        assert!(e.to_string().contains("bytes in memory"), "{e}");
        assert_eq!(field(e), "image");
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let samples = [
        png(300, 200),
        jpeg_with_app1(300, 200, 100),
        webp_lossy(300, 200),
        webp_lossless(300, 200),
        webp_extended(300, 200),
    ];
    for full in &samples {
        // The last bytes of a JPEG are EOI, after the frame header: not needed.
        let needed = if full[0] == 0xFF {
            full.len() - 2 - 10
        } else {
            full.len()
        };
        for cut in 0..needed {
            let e = inspect_bytes(&full[..cut]).unwrap_err();
            assert_eq!(field(e), "image", "prefix {cut} of {:?}", &full[..4]);
        }
    }
    let e = inspect_bytes(&png(300, 200)[..20]).unwrap_err();
    assert!(
        e.to_string().contains("dimensions could not be read"),
        "{e}"
    );
}

#[test]
fn corrupt_headers_do_not_panic() {
    let cases: Vec<Vec<u8>> = vec![
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00],       // length 0
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01],       // length 1
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 1, 2], // huge length past the end
        vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x05, 8, 0, 1], // SOF too short
        vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08],       // scan before frame
        vec![0xFF, 0xD8, 0xFF, 0x00],                   // stuffed zero
        vec![0xFF, 0xD8, 0xFF, 0xD9],                   // EOI
        vec![0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF],       // only fill bytes
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12], // garbage after a segment
        png(0, 10),
        jpeg(0, 10),
        [&png(10, 10)[..12], b"IDAT", &[0; 8]].concat(),
        [&webp_lossy(10, 10)[..23], &[0, 0, 0, 1, 0, 1, 0]].concat(),
        [&webp_lossless(10, 10)[..20], &[0x2E, 0, 0, 0, 0]].concat(),
        [&b"RIFF\0\0\0\0WEBPVP8Z"[..], &[0; 20]].concat(),
    ];
    for c in &cases {
        assert_eq!(field(inspect_bytes(c).unwrap_err()), "image", "{c:02x?}");
    }
    // A pseudo-random walk over arbitrary bytes behind each magic.
    let mut x: u32 = 12345;
    for i in 0..3000 {
        let magic: &[u8] = match i % 3 {
            0 => b"\x89PNG\r\n\x1a\n",
            1 => &[0xFF, 0xD8, 0xFF],
            _ => b"RIFF\0\0\0\0WEBPVP8",
        };
        let mut bytes = magic.to_vec();
        for _ in 0..(i % 64) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            bytes.push((x >> 16) as u8 | if i % 5 == 0 { 0xC0 } else { 0 });
        }
        let _ = inspect_bytes(&bytes);
    }
}

#[test]
fn sample_image_is_a_real_png() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample.png");
    let info = inspect_path(&path).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Png, 256, 192)
    );
    assert!(info.byte_len < 20_000);
    for name in [
        "sample-160.jpg",
        "sample-160.webp",
        "sample-160-lossless.webp",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let info = inspect_path(&path).unwrap();
        assert_eq!((info.width, info.height), (160, 160), "{name}");
    }
}
