//! Every rule a job is checked against before anything is sent, per provider, through
//! `Client::prepare`: each error names the field, shows the value and says what is allowed.

mod common;

use std::path::Path;

use common::images::{jpeg, png};
use common::temp_path;
use vidu::image::MAX_IMAGE_BYTES;
use vidu::ImageFormat;
use vidu::{
    Client, Config, Error, ImageSource, Job, MovementAmplitude, Provider, Result, Submission,
};

fn check<'j>(provider: Provider, job: &'j Job<'_>) -> Result<Submission<'j>> {
    Client::new(Config::new(provider, "key"))
        .unwrap()
        .prepare(job)
}

const URL: &str = "https://example.com/cat.jpg";
const MIB: usize = 1024 * 1024;

fn url_job() -> Job<'static> {
    Job::new(URL)
}

/// The field named by the error, checking that its message shows `shown`.
fn rejected(provider: Provider, job: &Job<'_>, shown: &str) -> &'static str {
    match check(provider, job) {
        Ok(_) => panic!("{provider}: expected an error for {shown:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(shown), "{text:?} should contain {shown:?}");
            match e {
                Error::InvalidInput { field, .. } => field,
                other => panic!("expected InvalidInput, got {other:?}"),
            }
        }
    }
}

fn accepted<'j>(provider: Provider, job: &'j Job<'_>) -> Submission<'j> {
    check(provider, job).unwrap_or_else(|e| panic!("{provider}: {e}"))
}

/// A PNG header of `w`x`h` followed by zeros up to `len` bytes.
fn padded_png(w: u32, h: u32, len: usize) -> Vec<u8> {
    let mut b = png(w, h);
    b.resize(len.max(b.len()), 0);
    b
}

#[test]
fn image_format_is_checked_by_content() {
    let png_as_jpg = temp_path("really-a-png.jpg");
    std::fs::write(&png_as_jpg, png(300, 200)).unwrap();
    let job = Job::new(png_as_jpg.as_path());
    let c = accepted(Provider::Vidu, &job);
    assert_eq!(c.image_format(), Some(ImageFormat::Png));

    let gif_as_png = temp_path("really-a-gif.png");
    std::fs::write(&gif_as_png, b"GIF89a\x2c\x01\xc8\x00\x00\x00\x00").unwrap();
    let job = Job::new(gif_as_png.as_path());
    assert_eq!(rejected(Provider::Vidu, &job, "really-a-gif.png"), "image");

    let missing = Job::new("/nonexistent/vidu/cat.png");
    assert!(matches!(
        check(Provider::Vidu, &missing),
        Err(Error::Io { .. })
    ));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample.png");
    for &p in Provider::ALL {
        accepted(p, &Job::new(sample.as_path()));
    }
}

#[test]
fn image_size_and_aspect_boundaries() {
    // (width, height, accepted)
    let rows = [
        (128, 128, true),
        (127, 128, false),
        (128, 127, false),
        (511, 128, true),
        (512, 128, false),
        (128, 511, true),
        (128, 512, false),
        (4095, 1024, true),
        (4096, 1024, false),
        (1, 100_000, false),
        (u32::MAX, 128, false),
    ];
    for (w, h, ok) in rows {
        let bytes = png(w, h);
        let job = Job::new(bytes.as_slice());
        if ok {
            accepted(Provider::Vidu, &job);
        } else {
            assert_eq!(rejected(Provider::Vidu, &job, &format!("{w}x{h}")), "image");
        }
    }
    let j = jpeg(127, 300);
    assert_eq!(
        rejected(Provider::Vtrix, &Job::new(j.as_slice()), "127x300"),
        "image"
    );
}

#[test]
fn file_over_50_mb_is_rejected_without_writing_50_mb() {
    let limit = MAX_IMAGE_BYTES;
    for (len, ok) in [(limit, true), (limit + 1, false)] {
        let path = temp_path(&format!("sparse-{len}.png"));
        let f = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &f, &png(1000, 800)).unwrap();
        f.set_len(len).unwrap();
        drop(f);
        let job = Job::new(path.as_path());
        if ok {
            // No body limit at UModelVerse: only the file limit applies.
            let c = accepted(Provider::UModelVerse, &job);
            assert_eq!(c.image_bytes(), Some(len));
        } else {
            assert_eq!(
                rejected(Provider::UModelVerse, &job, &len.to_string()),
                "image"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn inline_limits_per_provider() {
    // Official API: decoded image at most 10 MiB.
    let ok = padded_png(1000, 800, 10 * MIB);
    accepted(Provider::Vidu, &Job::new(ok.as_slice()));
    let big = padded_png(1000, 800, 10 * MIB + 1);
    let job = Job::new(big.as_slice());
    assert_eq!(rejected(Provider::Vidu, &job, "URL"), "image");
    assert!(check(Provider::Vidu, &job)
        .unwrap_err()
        .to_string()
        .contains("decoded image"));
    // A URL is not read at all, so the limit does not apply.
    accepted(Provider::Vidu, &url_job());

    // Vtrix: request body at most 20 MiB. Find the largest image that fits.
    let small = png(1000, 800);
    let small_job = Job::new(small.as_slice());
    let c = accepted(Provider::Vtrix, &small_job);
    // `data:image/png;base64,` and the base64 of `n` bytes.
    let png_data_uri_len = |n: u64| "data:image/png;base64,".len() as u64 + n.div_ceil(3) * 4;
    let overhead = c.content_length() - png_data_uri_len(small.len() as u64);
    let budget = 20 * MIB as u64 - overhead - png_data_uri_len(0);
    let max = (budget / 4 * 3) as usize;
    let fits = padded_png(1000, 800, max);
    let job = Job::new(fits.as_slice());
    let c = accepted(Provider::Vtrix, &job);
    assert!(c.content_length() <= 20 * MIB as u64 && c.content_length() > 20 * MIB as u64 - 4);
    let over = padded_png(1000, 800, max + 1);
    let job = Job::new(over.as_slice());
    assert_eq!(rejected(Provider::Vtrix, &job, "request body"), "image");
    assert!(check(Provider::Vtrix, &job)
        .unwrap_err()
        .to_string()
        .contains("URL"));

    // UModelVerse documents no body limit: 30 MB inline is fine.
    let big = padded_png(1000, 800, 30 * MIB);
    let job = Job::new(big.as_slice());
    let c = accepted(Provider::UModelVerse, &job);
    assert!(c.content_length() > 40 * MIB as u64);
}

#[test]
fn prompt_length_counts_characters() {
    let ok = url_job().prompt("猫".repeat(2000));
    accepted(Provider::Vidu, &ok);
    accepted(Provider::UModelVerse, &ok);
    let long = url_job().prompt("é".repeat(2001));
    assert_eq!(rejected(Provider::Vidu, &long, "2001 characters"), "prompt");
    assert_eq!(
        rejected(Provider::Vtrix, &long, "2001 characters"),
        "prompt"
    );
    let q3 = url_job().model("viduq3-pro").prompt("x".repeat(5000));
    accepted(Provider::Vidu, &q3);
    let q3 = url_job().model("viduq3-pro").prompt("x".repeat(5001));
    assert_eq!(rejected(Provider::Vidu, &q3, "5001"), "prompt");
    let nul = url_job().prompt("a\0b");
    assert_eq!(rejected(Provider::Vidu, &nul, "prompt"), "prompt");
}

/// Provider, model, duration, resolution, and the field rejected (`None`: accepted).
type Row = (
    Provider,
    &'static str,
    Option<u32>,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn duration_and_resolution_per_model() {
    let rows: &[Row] = &[
        (Provider::Vidu, "viduq2-pro", Some(10), None, None),
        (
            Provider::Vidu,
            "viduq2-pro",
            Some(11),
            None,
            Some("duration"),
        ),
        (
            Provider::UModelVerse,
            "viduq2-turbo",
            Some(1),
            Some("540p"),
            None,
        ),
        (
            Provider::UModelVerse,
            "viduq2-turbo",
            Some(0),
            None,
            Some("duration"),
        ),
        (
            Provider::UModelVerse,
            "viduq2-pro",
            None,
            Some("360p"),
            Some("resolution"),
        ),
        (
            Provider::Vidu,
            "vidu2.0",
            Some(8),
            Some("1080p"),
            Some("resolution"),
        ),
        (Provider::Vidu, "vidu2.0", Some(8), Some("720p"), None),
        (Provider::Vidu, "vidu2.0", Some(4), Some("1080p"), None),
        (Provider::Vidu, "vidu1.5", Some(5), None, Some("duration")),
        (Provider::Vidu, "viduq3-pro", Some(16), Some("1080p"), None),
        (
            Provider::Vidu,
            "viduq3-pro",
            Some(17),
            None,
            Some("duration"),
        ),
        (Provider::Vidu, "viduq1", Some(5), Some("1080p"), None),
        (
            Provider::Vidu,
            "viduq1",
            Some(5),
            Some("720p"),
            Some("resolution"),
        ),
        (
            Provider::Vtrix,
            "viduq1-classic",
            Some(5),
            Some("1080p"),
            None,
        ),
        (
            Provider::Vtrix,
            "viduq1-classic",
            Some(4),
            None,
            Some("duration"),
        ),
    ];
    for &(provider, model, duration, resolution, field) in rows {
        let mut job = url_job().model(model);
        job.duration = duration;
        job.resolution = resolution.map(str::to_owned);
        match field {
            None => drop(accepted(provider, &job)),
            Some(field) => {
                let shown = match field {
                    "duration" => duration.unwrap().to_string(),
                    _ => resolution.unwrap().to_owned(),
                };
                assert_eq!(rejected(provider, &job, &shown), field, "{model}");
            }
        }
    }
}

#[test]
fn movement_amplitude_from_str() {
    assert_eq!(
        "large".parse::<MovementAmplitude>().unwrap(),
        MovementAmplitude::Large
    );
    let e = "huge".parse::<MovementAmplitude>().unwrap_err();
    assert!(e.to_string().contains("huge") && e.to_string().contains("auto, small"));
    assert!(matches!(
        e,
        Error::InvalidInput {
            field: "movement_amplitude",
            ..
        }
    ));
}

#[test]
fn models() {
    let unknown = url_job().model("viduq9-ultra");
    assert_eq!(rejected(Provider::Vidu, &unknown, "viduq9-ultra"), "model");
    let text = check(Provider::Vidu, &unknown).unwrap_err().to_string();
    assert!(
        text.contains("viduq3-pro") && text.contains("vidu1.5"),
        "{text}"
    );
    let mut allowed = unknown.clone();
    allowed.allow_unknown_model = true;
    allowed.duration = Some(99);
    assert_eq!(accepted(Provider::Vidu, &allowed).model(), "viduq9-ultra");
    let spaced = url_job().model("vidu q2");
    assert_eq!(rejected(Provider::Vidu, &spaced, "vidu q2"), "model");

    for typed in ["vidu-cn-img2video-viduq1-classic", "viduq1-classic"] {
        let job = url_job().model(typed);
        assert_eq!(accepted(Provider::Vtrix, &job).model(), "viduq1-classic");
    }
    assert_eq!(
        accepted(Provider::Vtrix, &url_job()).model(),
        "viduq1-classic"
    );
    let wrong = url_job().model("viduq2-pro");
    assert_eq!(rejected(Provider::Vtrix, &wrong, "viduq2-pro"), "model");
}

#[test]
fn provider_specific_fields() {
    let mut payload = url_job();
    payload.payload = Some("order-42".into());
    accepted(Provider::Vidu, &payload);
    assert_eq!(rejected(Provider::Vtrix, &payload, "order-42"), "payload");
    assert_eq!(
        rejected(Provider::UModelVerse, &payload, "order-42"),
        "payload"
    );

    let mut hook = url_job();
    hook.callback_url = Some("https://example.com/hook".into());
    accepted(Provider::Vidu, &hook);
    accepted(Provider::Vtrix, &hook);
    assert_eq!(
        rejected(Provider::UModelVerse, &hook, "example.com/hook"),
        "callback_url"
    );
    hook.callback_url = Some("ftp://example.com/hook".into());
    assert_eq!(rejected(Provider::Vidu, &hook, "ftp://"), "callback_url");

    let mut bgm = url_job();
    bgm.bgm = Some(true);
    accepted(Provider::Vidu, &bgm);
    accepted(Provider::UModelVerse, &bgm);
    assert_eq!(rejected(Provider::Vtrix, &bgm, "true"), "bgm");

    let mut seed = url_job();
    seed.seed = Some(7);
    accepted(Provider::Vidu, &seed);
    assert_eq!(rejected(Provider::Vtrix, &seed, "7"), "seed");
    seed.seed = Some(u64::MAX);
    assert_eq!(
        rejected(Provider::Vidu, &seed, &u64::MAX.to_string()),
        "seed"
    );

    let bad_url = Job::new(ImageSource::Url("https://".into()));
    assert_eq!(rejected(Provider::Vidu, &bad_url, "https://"), "image");
}

#[test]
fn the_official_apis_newer_fields_are_checked() {
    let all = url_job()
        .audio(true)
        .voice_id("voice-1")
        .is_rec(true)
        .watermark(true)
        .wm_position(4)
        .wm_url("https://example.com/wm.png")
        .meta_data("{\"k\":1}");
    accepted(Provider::Vidu, &all);
    accepted(Provider::Vidu, &url_job().off_peak(true));
    // The gateways take none of them: the error names the field.
    for (job, field, shown) in [
        (url_job().audio(true), "audio", "true"),
        (url_job().voice_id("v"), "voice_id", "v"),
        (url_job().is_rec(true), "is_rec", "true"),
        (url_job().off_peak(true), "off_peak", "true"),
        (url_job().watermark(false), "watermark", "false"),
        (url_job().wm_position(2), "wm_position", "2"),
        (url_job().wm_url("https://e/w.png"), "wm_url", "e/w.png"),
        (url_job().meta_data("m"), "meta_data", "m"),
    ] {
        for p in [Provider::UModelVerse, Provider::Vtrix] {
            assert_eq!(rejected(p, &job, shown), field, "{p}");
            let text = check(p, &job).unwrap_err().to_string();
            assert!(
                text.contains(&format!("{p} does not take {field}")),
                "{text}"
            );
        }
    }
    // Rules between fields.
    let no_audio = url_job().voice_id("voice-1");
    assert_eq!(rejected(Provider::Vidu, &no_audio, "voice-1"), "voice_id");
    let both = url_job().audio(true).off_peak(true);
    assert_eq!(rejected(Provider::Vidu, &both, "true"), "off_peak");
    accepted(Provider::Vidu, &url_job().audio(false).off_peak(true));
    for bad in [0, 5] {
        let job = url_job().wm_position(bad);
        assert_eq!(
            rejected(Provider::Vidu, &job, &bad.to_string()),
            "wm_position"
        );
    }
    let job = url_job().wm_url("ftp://e/w.png");
    assert_eq!(rejected(Provider::Vidu, &job, "ftp://"), "wm_url");
}

#[test]
fn extra_fields_are_checked_only_for_json_and_collisions() {
    let ok = url_job().extra_fields_unchecked(r#"{"future_knob": [1, 2], "x": null}"#);
    for &p in Provider::ALL {
        accepted(p, &ok);
    }
    for bad in ["[1]", "\"x\"", "{", "", "{\"a\":1} {}"] {
        let job = url_job().extra_fields_unchecked(bad);
        assert_eq!(
            rejected(Provider::Vidu, &job, "JSON object"),
            "extra_fields_unchecked",
            "{bad:?}"
        );
    }
    // A field this library sets cannot be smuggled in: use its setter, which is checked.
    for (p, key) in [
        (Provider::Vidu, "duration"),
        (Provider::Vidu, "off_peak"),
        (Provider::Vtrix, "images"),
        (Provider::UModelVerse, "seed"),
    ] {
        let job = url_job().extra_fields_unchecked(format!("{{\"{key}\": 1}}"));
        assert_eq!(rejected(p, &job, key), "extra_fields_unchecked", "{p}");
    }
}

#[test]
fn every_setter_sets_its_field() {
    let job = Job::new(URL)
        .model("viduq2-pro")
        .prompt("p")
        .duration(5)
        .seed(7)
        .resolution("720p")
        .movement_amplitude(MovementAmplitude::Small)
        .bgm(true)
        .callback_url("https://e/h")
        .payload("x")
        .allow_unknown_model(true)
        .image("https://e/other.png");
    assert_eq!(job.model.as_deref(), Some("viduq2-pro"));
    assert_eq!(job.prompt.as_deref(), Some("p"));
    assert_eq!((job.duration, job.seed), (Some(5), Some(7)));
    assert_eq!(job.resolution.as_deref(), Some("720p"));
    assert_eq!(job.movement_amplitude, Some(MovementAmplitude::Small));
    assert_eq!(job.bgm, Some(true));
    assert_eq!(job.callback_url.as_deref(), Some("https://e/h"));
    assert_eq!(job.payload.as_deref(), Some("x"));
    assert!(job.allow_unknown_model);
    assert_eq!(job.image, ImageSource::Url("https://e/other.png".into()));
    let s = accepted(Provider::Vidu, &job);
    assert_eq!((s.model(), s.payload()), ("viduq2-pro", Some("x")));
}

#[test]
fn a_submission_is_sent_only_by_a_client_of_its_provider() {
    let job = url_job();
    let vidu = Client::new(Config::new(Provider::Vidu, "k")).unwrap();
    let submission = vidu.prepare(&job).unwrap();
    assert_eq!(submission.provider(), Provider::Vidu);
    assert_eq!(submission.image_format(), None);
    // Nothing listens there: the refusal comes before anything is sent.
    let vtrix =
        Client::new(Config::new(Provider::Vtrix, "k").base_url("http://127.0.0.1:9")).unwrap();
    let err = vtrix
        .submit_prepared(&submission, &vidu::CancelToken::new())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "submission",
                ..
            }
        ),
        "{err:?}"
    );
}
