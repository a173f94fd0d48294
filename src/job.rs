//! The job description and its validation. Every rule lives here and runs before anything is
//! sent; each error names the field, the value and what is allowed.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::image::{self, ImageInfo, ImageSource};
use crate::model::{self, ModelSpec};
use crate::provider::{Provider, SubmitParams};

/// How much the camera and subject move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MovementAmplitude {
    /// Let the model decide (the providers' default).
    Auto = 1,
    /// Little movement.
    Small = 2,
    /// Some movement.
    Medium = 3,
    /// Much movement.
    Large = 4,
}

impl MovementAmplitude {
    /// The wire name: `auto`, `small`, `medium`, `large`.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementAmplitude::Auto => "auto",
            MovementAmplitude::Small => "small",
            MovementAmplitude::Medium => "medium",
            MovementAmplitude::Large => "large",
        }
    }
}

impl fmt::Display for MovementAmplitude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MovementAmplitude {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        use MovementAmplitude::*;
        [Auto, Small, Medium, Large]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                Error::invalid("movement_amplitude", s, "one of auto, small, medium, large")
            })
    }
}

/// One image-to-video job. Fields left `None` take the provider's default.
#[derive(Clone, Debug, PartialEq)]
pub struct Job<'a> {
    /// Model name; default [`Provider::default_model`]. For Vtrix either the upstream name
    /// (`viduq1-classic`) or the customer-facing id (`vidu-cn-img2video-viduq1-classic`).
    pub model: Option<String>,
    /// The first frame: a URL, a file or bytes. Required.
    pub image: ImageSource<'a>,
    /// What should happen in the video. Length limit per model, in characters.
    pub prompt: Option<String>,
    /// Seconds of video; allowed values per model.
    pub duration: Option<u32>,
    /// Random seed; 0 or `None` lets the provider choose.
    pub seed: Option<u64>,
    /// `"540p"`, `"720p"`, `"1080p"`, `"360p"`; allowed values per model and duration.
    pub resolution: Option<String>,
    /// Default: provider's (auto).
    pub movement_amplitude: Option<MovementAmplitude>,
    /// Add background music (UModelVerse, official API). Default: provider's (false).
    pub bgm: Option<bool>,
    /// URL the provider calls when the task ends (Vtrix, official API).
    pub callback_url: Option<String>,
    /// Opaque text returned with the task (official API), at most 1,048,576 characters.
    pub payload: Option<String>,
    /// Send a model missing from [`crate::model`]'s table without checking duration,
    /// resolution or prompt length against it. Default false.
    pub allow_unknown_model: bool,
}

impl<'a> Job<'a> {
    /// A job with this image and every other field at its default.
    pub fn new(image: impl Into<ImageSource<'a>>) -> Self {
        Job {
            model: None,
            image: image.into(),
            prompt: None,
            duration: None,
            seed: None,
            resolution: None,
            movement_amplitude: None,
            bgm: None,
            callback_url: None,
            payload: None,
            allow_unknown_model: false,
        }
    }

    /// Sets the prompt.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }
    /// Sets the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    /// Sets the duration in seconds.
    pub fn duration(mut self, seconds: u32) -> Self {
        self.duration = Some(seconds);
        self
    }
    /// Sets the resolution.
    pub fn resolution(mut self, resolution: impl Into<String>) -> Self {
        self.resolution = Some(resolution.into());
        self
    }
}

/// A job that passed every check, with what was learned about its image.
#[derive(Debug)]
pub(crate) struct CheckedJob<'j, 'a> {
    pub job: &'j Job<'a>,
    /// Upstream model name.
    pub model: &'j str,
    /// Set for inline images (path or bytes).
    pub inline: Option<ImageInfo>,
    /// Exact length of the request body.
    pub body_len: u64,
}

impl<'j, 'a> CheckedJob<'j, 'a> {
    pub(crate) fn params(&self) -> SubmitParams<'j> {
        let job = self.job;
        SubmitParams {
            model: self.model,
            image_url: match &job.image {
                ImageSource::Url(u) => Some(u.as_str()),
                _ => None,
            },
            prompt: job.prompt.as_deref(),
            duration: job.duration,
            seed: job.seed,
            resolution: job.resolution.as_deref(),
            movement_amplitude: job.movement_amplitude.map(MovementAmplitude::as_str),
            bgm: job.bgm,
            callback_url: job.callback_url.as_deref(),
            payload: job.payload.as_deref(),
        }
    }
}

fn list(items: &[impl fmt::Display]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_http_url(field: &'static str, url: &str) -> Result<()> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        ""
    };
    if rest.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            field,
            url,
            "an http:// or https:// URL without spaces",
        ));
    }
    Ok(())
}

fn check_model_params(provider: Provider, spec: &ModelSpec, job: &Job<'_>) -> Result<()> {
    if let Some(d) = job.duration {
        let allowed = spec.durations();
        if !allowed.contains(&d) {
            return Err(Error::invalid(
                "duration",
                d,
                format!(
                    "for {} at {provider}: one of {} seconds",
                    spec.name,
                    list(&allowed)
                ),
            ));
        }
    }
    if let Some(r) = &job.resolution {
        let allowed = spec.resolutions(job.duration);
        if !allowed.contains(&r.as_str()) {
            let with = job
                .duration
                .map(|d| format!(" with duration {d}"))
                .unwrap_or_default();
            return Err(Error::invalid(
                "resolution",
                r,
                format!("for {}{with}: one of {}", spec.name, list(&allowed)),
            ));
        }
    }
    if let Some(p) = &job.prompt {
        let chars = p.chars().count();
        if chars > spec.max_prompt_chars {
            return Err(Error::invalid(
                "prompt",
                format!("{chars} characters"),
                format!(
                    "at most {} characters for {}",
                    spec.max_prompt_chars, spec.name
                ),
            ));
        }
    }
    Ok(())
}

/// Checks `job` for `provider` and measures its image. Reads only image headers.
pub(crate) fn check<'j, 'a>(provider: Provider, job: &'j Job<'a>) -> Result<CheckedJob<'j, 'a>> {
    let typed = job.model.as_deref().unwrap_or(provider.default_model());
    let model = model::upstream_name(provider, typed);
    if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "model",
            typed,
            "a model name without spaces",
        ));
    }
    match model::find(provider, model) {
        Some(spec) => check_model_params(provider, spec, job)?,
        None if job.allow_unknown_model => {}
        None => {
            let known: Vec<&str> = model::models(provider).iter().map(|m| m.name).collect();
            return Err(Error::invalid(
                "model",
                typed,
                format!(
                    "{provider} sells {}; set allow_unknown_model to send another model unchecked",
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(p) = &job.prompt {
        if p.contains('\0') {
            return Err(Error::invalid("prompt", p, "text without NUL characters"));
        }
    }
    if let Some(a) = job.seed {
        if a > i64::MAX as u64 {
            return Err(Error::invalid("seed", a, format!("0 to {}", i64::MAX)));
        }
    }
    if let Some(url) = &job.callback_url {
        if provider == Provider::UModelVerse {
            return Err(Error::invalid(
                "callback_url",
                url,
                "unset: umodelverse has no callback",
            ));
        }
        check_http_url("callback_url", url)?;
    }
    if let Some(p) = &job.payload {
        if provider != Provider::Vidu {
            return Err(Error::invalid(
                "payload",
                crate::error::shorten(p, 40),
                "unset: only the vidu provider takes a payload",
            ));
        }
        let chars = p.chars().count();
        if chars > model::MAX_PAYLOAD_CHARS {
            return Err(Error::invalid(
                "payload",
                format!("{chars} characters"),
                format!("at most {} characters", model::MAX_PAYLOAD_CHARS),
            ));
        }
    }
    if job.bgm.is_some() && provider == Provider::Vtrix {
        return Err(Error::invalid(
            "bgm",
            job.bgm.unwrap_or_default(),
            "unset: vtrix takes no bgm",
        ));
    }
    if job.seed.is_some_and(|s| s != 0) && provider == Provider::Vtrix {
        return Err(Error::invalid(
            "seed",
            job.seed.unwrap_or_default(),
            "unset: vtrix takes no seed",
        ));
    }

    let inline = match &job.image {
        ImageSource::Url(url) => {
            check_http_url("image", url)?;
            None
        }
        ImageSource::Path(path) => Some(image::inspect_path(path)?),
        ImageSource::Bytes(bytes) => Some(image::inspect_bytes(bytes)?),
    };
    if let Some(info) = &inline {
        check_image(info)?;
    }

    let checked = CheckedJob {
        job,
        model,
        inline,
        body_len: 0,
    };
    let request = provider.submit_request(&checked.params());
    let body = request.body.as_ref().expect("submit has a body");
    let image_len = inline.map_or(0, |i| image::data_uri_len(i.format, i.byte_len));
    let body_len = body.head.len() as u64 + image_len + body.tail.len() as u64;
    if let Some(info) = &inline {
        let limits = model::body_limits(provider);
        let too_big = |what: &str, limit: u64, actual: u64| {
            Error::invalid(
                "image",
                format!("{} inline ({what} {actual} bytes)", describe(&job.image)),
                format!(
                    "{provider} accepts at most {limit} bytes of {what}; pass the image as an https URL instead"
                ),
            )
        };
        if let Some(limit) = limits.max_decoded_image {
            if info.byte_len > limit {
                return Err(too_big("decoded image", limit, info.byte_len));
            }
        }
        if let Some(limit) = limits.max_body {
            if body_len > limit {
                return Err(too_big("request body", limit, body_len));
            }
        }
    }
    Ok(CheckedJob {
        body_len,
        ..checked
    })
}

fn describe(source: &ImageSource<'_>) -> String {
    match source {
        ImageSource::Url(u) => u.clone(),
        ImageSource::Path(p) => p.display().to_string(),
        ImageSource::Bytes(b) => format!("{} bytes in memory", b.len()),
    }
}

fn check_image(info: &ImageInfo) -> Result<()> {
    let (w, h) = (info.width, info.height);
    if info.byte_len > model::MAX_IMAGE_BYTES {
        return Err(Error::invalid(
            "image",
            format!("{} bytes", info.byte_len),
            format!("at most {} bytes (50 MB)", model::MAX_IMAGE_BYTES),
        ));
    }
    if w < model::MIN_IMAGE_SIDE || h < model::MIN_IMAGE_SIDE {
        return Err(Error::invalid(
            "image",
            format!("{w}x{h} pixels"),
            format!("at least {0}x{0} pixels", model::MIN_IMAGE_SIDE),
        ));
    }
    let (long, short) = (w.max(h) as u64, w.min(h) as u64);
    if long >= short * model::MAX_ASPECT as u64 {
        return Err(Error::invalid(
            "image",
            format!("{w}x{h} pixels"),
            "an aspect ratio strictly between 1:4 and 4:1",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::fixtures::{jpeg, png};
    use std::path::{Path, PathBuf};

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

    fn accepted<'j, 'a>(provider: Provider, job: &'j Job<'a>) -> CheckedJob<'j, 'a> {
        check(provider, job).unwrap_or_else(|e| panic!("{provider}: {e}"))
    }

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vidu-job-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
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
        assert_eq!(c.inline.unwrap().format, image::ImageFormat::Png);

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
        for p in Provider::ALL {
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
        let limit = model::MAX_IMAGE_BYTES;
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
                assert_eq!(c.inline.unwrap().byte_len, len);
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
        let overhead =
            c.body_len - image::data_uri_len(image::ImageFormat::Png, small.len() as u64);
        let budget = 20 * MIB as u64 - overhead - image::data_uri_len(image::ImageFormat::Png, 0);
        let max = (budget / 4 * 3) as usize;
        let fits = padded_png(1000, 800, max);
        let job = Job::new(fits.as_slice());
        let c = accepted(Provider::Vtrix, &job);
        assert!(c.body_len <= 20 * MIB as u64 && c.body_len > 20 * MIB as u64 - 4);
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
        assert!(c.body_len > 40 * MIB as u64);
    }

    #[test]
    fn body_len_is_exact() {
        let bytes = png(300, 200);
        for p in Provider::ALL {
            let job = Job::new(bytes.as_slice()).prompt("a cat");
            let c = accepted(p, &job);
            let body = p.submit_request(&c.params()).body.unwrap();
            let uri = image::data_uri_len(image::ImageFormat::Png, bytes.len() as u64);
            assert_eq!(c.body_len, (body.head.len() + body.tail.len()) as u64 + uri);
        }
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
        assert_eq!(accepted(Provider::Vidu, &allowed).model, "viduq9-ultra");
        let spaced = url_job().model("vidu q2");
        assert_eq!(rejected(Provider::Vidu, &spaced, "vidu q2"), "model");

        for typed in ["vidu-cn-img2video-viduq1-classic", "viduq1-classic"] {
            let job = url_job().model(typed);
            assert_eq!(accepted(Provider::Vtrix, &job).model, "viduq1-classic");
        }
        assert_eq!(
            accepted(Provider::Vtrix, &url_job()).model,
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
}
