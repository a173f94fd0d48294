//! Validation rules reachable through the public API: image sniffing and measuring, the model
//! table, and parsing of user-typed values. The full rule table (through the crate-private
//! `job::check`) is in `src/job.rs`; `Client::check` will make it reachable from here.

mod common;

use std::str::FromStr;

use common::images::*;
use vidu::image::{inspect_bytes, inspect_path};
use vidu::{Error, ImageFormat, MovementAmplitude, Provider};

fn field(e: Error) -> &'static str {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn headers_of_each_format() {
    let rows: Vec<(Vec<u8>, ImageFormat, u32, u32)> = vec![
        (png(128, 128), ImageFormat::Png, 128, 128),
        (jpeg(511, 128), ImageFormat::Jpeg, 511, 128),
        (
            jpeg_with_app1(640, 480, 60_000),
            ImageFormat::Jpeg,
            640,
            480,
        ),
        (webp_lossy(160, 160), ImageFormat::Webp, 160, 160),
        (webp_lossless(300, 200), ImageFormat::Webp, 300, 200),
        (webp_extended(5000, 1250), ImageFormat::Webp, 5000, 1250),
    ];
    for (bytes, format, w, h) in rows {
        let info = inspect_bytes(&bytes).unwrap();
        assert_eq!((info.format, info.width, info.height), (format, w, h));
        assert_eq!(info.byte_len, bytes.len() as u64);
    }
}

#[test]
fn format_by_content_not_name() {
    let png_as_jpg = common::temp_path("png-named.jpg");
    std::fs::write(&png_as_jpg, png(200, 100)).unwrap();
    assert_eq!(inspect_path(&png_as_jpg).unwrap().format, ImageFormat::Png);

    let gif_as_png = common::temp_path("gif-named.png");
    std::fs::write(&gif_as_png, b"GIF89a\x10\x00\x10\x00\x00\x00\x00").unwrap();
    let e = inspect_path(&gif_as_png).unwrap_err();
    assert!(e.to_string().contains("gif-named.png"), "{e}");
    assert_eq!(field(e), "image");
}

#[test]
fn real_sample_images() {
    let info = inspect_path(&common::repo_file("examples/sample.png")).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Png, 256, 192)
    );
    for (name, format) in [
        ("tests/data/sample-160.jpg", ImageFormat::Jpeg),
        ("tests/data/sample-160.webp", ImageFormat::Webp),
        ("tests/data/sample-160-lossless.webp", ImageFormat::Webp),
    ] {
        let info = inspect_path(&common::repo_file(name)).unwrap();
        assert_eq!(
            (info.format, info.width, info.height),
            (format, 160, 160),
            "{name}"
        );
    }
}

#[test]
fn truncated_headers_are_invalid_input() {
    let full = webp_extended(300, 200);
    for cut in 0..full.len() {
        assert_eq!(field(inspect_bytes(&full[..cut]).unwrap_err()), "image");
    }
}

#[test]
fn movement_amplitude_and_provider_names() {
    assert_eq!(
        MovementAmplitude::from_str("small").unwrap(),
        MovementAmplitude::Small
    );
    assert_eq!(
        field(MovementAmplitude::from_str("wild").unwrap_err()),
        "movement_amplitude"
    );
    assert_eq!(Provider::from_str(" VIDU ").unwrap(), Provider::Vidu);
    assert_eq!(field(Provider::from_str("runway").unwrap_err()), "provider");
}

#[test]
fn model_table() {
    // (provider, model, duration, resolution, allowed)
    let rows = [
        (Provider::Vidu, "viduq2-pro", 10, "1080p", true),
        (Provider::Vidu, "viduq2-pro", 11, "1080p", false),
        (Provider::Vidu, "vidu2.0", 8, "720p", true),
        (Provider::Vidu, "vidu2.0", 8, "1080p", false),
        (Provider::Vidu, "viduq3-pro", 16, "540p", true),
        (Provider::UModelVerse, "viduq2-turbo", 1, "540p", true),
        (Provider::Vtrix, "viduq1-classic", 5, "1080p", true),
        (
            Provider::Vtrix,
            "vidu-cn-img2video-viduq1-classic",
            5,
            "720p",
            false,
        ),
    ];
    for (provider, name, duration, resolution, allowed) in rows {
        let spec = provider.find_model(name).unwrap();
        let ok = spec.durations().contains(&duration)
            && spec.resolutions(Some(duration)).contains(&resolution);
        assert_eq!(ok, allowed, "{provider} {name} {duration}s {resolution}");
    }
    assert!(Provider::UModelVerse.find_model("viduq3-pro").is_none());
    assert_eq!(
        Provider::Vidu.upstream_model_name("vidu-cn-img2video-x"),
        "vidu-cn-img2video-x"
    );
}
