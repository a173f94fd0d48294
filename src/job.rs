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
