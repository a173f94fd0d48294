//! The prepared submit: a job checked against its provider and turned into the exact request
//! that will be sent (JSON head, image stream, JSON tail, exact length). Every rule runs here,
//! before anything is sent; each error names the field, the value and what is allowed.

use std::fmt;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::image::{self, DataUriReader, ImageFormat, ImageInfo, ImageSource};
use crate::job::{Job, MovementAmplitude};
use crate::model::ModelSpec;
use crate::provider::{Field, Provider, SubmitParams, WireRequest};

/// A job checked for its provider, with the request that will be sent. Make one with
/// [`crate::Client::prepare`] and send it with [`crate::Client::submit_prepared`] (as often as
/// the caller decides: each send may create and bill a task). Borrows the job's image.
#[derive(Debug)]
pub struct Submission<'j> {
    provider: Provider,
    model: String,
    payload: Option<String>,
    request: WireRequest,
    image: Option<InlineImage<'j>>,
    content_length: u64,
}

/// A local image, streamed as a data URI into the body's image slot.
#[derive(Debug)]
struct InlineImage<'j> {
    source: InlineSource<'j>,
    info: ImageInfo,
}

#[derive(Debug)]
enum InlineSource<'j> {
    Path(&'j Path),
    Bytes(&'j [u8]),
}

/// Where an image read failure during the send is kept, to tell it from a network failure.
pub(crate) type ImageErrorSlot = Arc<Mutex<Option<io::Error>>>;

impl<'j> Submission<'j> {
    /// The provider it is for.
    pub fn provider(&self) -> Provider {
        self.provider
    }
    /// The upstream model name that will be sent (`viduq2-pro`), defaults applied.
    pub fn model(&self) -> &str {
        &self.model
    }
    /// The payload that will be sent, if any.
    pub fn payload(&self) -> Option<&str> {
        self.payload.as_deref()
    }
    /// The exact length of the request body, in bytes.
    pub fn content_length(&self) -> u64 {
        self.content_length
    }
    /// The format of an inline image (a file or bytes); `None` for an image URL.
    pub fn image_format(&self) -> Option<ImageFormat> {
        self.image.as_ref().map(|i| i.info.format)
    }
    /// The size of an inline image in bytes, before base64; `None` for an image URL.
    pub fn image_bytes(&self) -> Option<u64> {
        self.image.as_ref().map(|i| i.info.byte_len)
    }

    pub(crate) fn request(&self) -> &WireRequest {
        &self.request
    }

    /// The path the image is read from, for errors.
    pub(crate) fn image_path(&self) -> PathBuf {
        match self.image.as_ref().map(|i| &i.source) {
            Some(InlineSource::Path(p)) => p.to_path_buf(),
            _ => PathBuf::from("<memory>"),
        }
    }

    /// The body as a stream: JSON head, the data URI encoded chunk by chunk, JSON tail. An
    /// image read failure is also kept in `error`.
    pub(crate) fn open_body(&self, error: &ImageErrorSlot) -> Result<Box<dyn Read + '_>> {
        let body = self.request.body.as_ref();
        let head = Cursor::new(body.map_or(&[][..], |b| &b.head[..]));
        let tail = Cursor::new(body.map_or(&[][..], |b| &b.tail[..]));
        let Some(image) = &self.image else {
            return Ok(Box::new(head.chain(tail)));
        };
        let source: Box<dyn Read + '_> = match image.source {
            InlineSource::Path(path) => {
                Box::new(std::fs::File::open(path).map_err(|source| Error::Io {
                    action: "opening the image",
                    path: path.to_owned(),
                    source,
                    task_id: None,
                })?)
            }
            InlineSource::Bytes(bytes) => Box::new(bytes),
        };
        let reader = ImageReader {
            inner: source,
            remaining: image.info.byte_len,
            error: error.clone(),
        };
        Ok(Box::new(
            head.chain(DataUriReader::new(image.info.format, reader))
                .chain(tail),
        ))
    }
}

/// Reads `inner`, remembering its first error so the caller can tell an image read failure
/// from a network failure, and failing if it yields other than the expected bytes.
struct ImageReader<R> {
    inner: R,
    remaining: u64,
    error: ImageErrorSlot,
}

impl<R: Read> Read for ImageReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let result = if cap == 0 {
            Ok(0)
        } else {
            self.inner.read(&mut buf[..cap])
        };
        let result = match result {
            Ok(0) if self.remaining > 0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image file shrank while it was being sent",
            )),
            other => other,
        };
        match result {
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(copy)
            }
        }
    }
}

/// Checks `job` for `provider`, reading only image headers, and builds the request.
pub(crate) fn prepare<'j>(provider: Provider, job: &'j Job<'_>) -> Result<Submission<'j>> {
    let spec = provider.spec();
    let typed = job.model.as_deref().unwrap_or(spec.default_model);
    let model = provider.upstream_model_name(typed);
    if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "model",
            typed,
            "a model name without spaces",
        ));
    }
    match provider.find_model(model) {
        Some(model_spec) => check_model_params(provider, model_spec, job)?,
        None if job.allow_unknown_model => {}
        None => {
            let known: Vec<&str> = provider.models().iter().map(|m| m.name).collect();
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
    check_accepted(provider, job)?;
    check_official_fields(job)?;
    if let Some(url) = &job.callback_url {
        check_http_url("callback_url", url)?;
    }
    if let Some(p) = &job.payload {
        let chars = p.chars().count();
        if chars > spec.max_payload_chars {
            return Err(Error::invalid(
                "payload",
                format!("{chars} characters"),
                format!("at most {} characters", spec.max_payload_chars),
            ));
        }
    }
    let extra = match &job.extra_fields {
        Some(json) => Some(extra_fields(provider, json)?),
        None => None,
    };

    let (image_url, image) = match &job.image {
        ImageSource::Url(url) => {
            check_http_url("image", url)?;
            (Some(url.as_str()), None)
        }
        ImageSource::Path(path) => {
            let info = image::inspect_path(path)?;
            let source = InlineSource::Path(path);
            (None, Some(InlineImage { source, info }))
        }
        ImageSource::Bytes(bytes) => {
            let info = image::inspect_bytes(bytes)?;
            let source = InlineSource::Bytes(bytes);
            (None, Some(InlineImage { source, info }))
        }
    };
    if let Some(i) = &image {
        check_image(&i.info)?;
    }

    let params = SubmitParams {
        model,
        image_url,
        prompt: job.prompt.as_deref(),
        duration: job.duration,
        seed: job.seed,
        resolution: job.resolution.as_deref(),
        movement_amplitude: job.movement_amplitude.map(MovementAmplitude::as_str),
        bgm: job.bgm,
        callback_url: job.callback_url.as_deref(),
        payload: job.payload.as_deref(),
        audio: job.audio,
        voice_id: job.voice_id.as_deref(),
        is_rec: job.is_rec,
        off_peak: job.off_peak,
        watermark: job.watermark,
        wm_position: job.wm_position,
        wm_url: job.wm_url.as_deref(),
        meta_data: job.meta_data.as_deref(),
        extra: extra.as_ref(),
    };
    let request = (spec.submit_request)(&params);
    let json_len = request
        .body
        .as_ref()
        .map_or(0, |b| b.head.len() as u64 + b.tail.len() as u64);
    let image_len = image
        .as_ref()
        .map_or(0, |i| image::data_uri_len(i.info.format, i.info.byte_len));
    let content_length = json_len.saturating_add(image_len);
    if let Some(i) = &image {
        let limits = spec.body_limits;
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
            if i.info.byte_len > limit {
                return Err(too_big("decoded image", limit, i.info.byte_len));
            }
        }
        if let Some(limit) = limits.max_body {
            if content_length > limit {
                return Err(too_big("request body", limit, content_length));
            }
        }
    }
    Ok(Submission {
        provider,
        model: model.to_owned(),
        payload: job.payload.clone(),
        request,
        image,
        content_length,
    })
}

/// Every optional field the job sets must be one the provider takes.
fn check_accepted(provider: Provider, job: &Job<'_>) -> Result<()> {
    fn shown<T: fmt::Display>(v: &Option<T>) -> Option<String> {
        v.as_ref()
            .map(|v| crate::error::shorten(&v.to_string(), 40))
    }
    let set: [(Field, Option<String>); 12] = [
        // A seed of 0 means "the provider chooses": the same as none.
        (Field::Seed, shown(&job.seed.filter(|s| *s != 0))),
        (Field::Bgm, shown(&job.bgm)),
        (Field::CallbackUrl, shown(&job.callback_url)),
        (Field::Payload, shown(&job.payload)),
        (Field::Audio, shown(&job.audio)),
        (Field::VoiceId, shown(&job.voice_id)),
        (Field::IsRec, shown(&job.is_rec)),
        (Field::OffPeak, shown(&job.off_peak)),
        (Field::Watermark, shown(&job.watermark)),
        (Field::WmPosition, shown(&job.wm_position)),
        (Field::WmUrl, shown(&job.wm_url)),
        (Field::MetaData, shown(&job.meta_data)),
    ];
    let accepts = provider.spec().accepts;
    for (field, value) in set {
        if let Some(value) = value {
            if !accepts.contains(&field) {
                let name = field.name();
                return Err(Error::invalid(
                    name,
                    value,
                    format!("unset: {provider} does not take {name}"),
                ));
            }
        }
    }
    Ok(())
}

/// The rules between the official API's newer fields.
fn check_official_fields(job: &Job<'_>) -> Result<()> {
    if let Some(v) = &job.voice_id {
        if job.audio != Some(true) {
            return Err(Error::invalid("voice_id", v, "unset unless audio is true"));
        }
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(Error::invalid(
                "voice_id",
                v,
                "a voice id without control characters",
            ));
        }
    }
    if job.off_peak == Some(true) && job.audio == Some(true) {
        return Err(Error::invalid(
            "off_peak",
            true,
            "false or unset when audio is true: off-peak generation has no audio",
        ));
    }
    if let Some(p) = job.wm_position {
        if !(1..=4).contains(&p) {
            return Err(Error::invalid("wm_position", p, "1 to 4"));
        }
    }
    if let Some(url) = &job.wm_url {
        check_http_url("wm_url", url)?;
    }
    Ok(())
}

/// The extra fields: a JSON object whose keys are not ones this library writes.
fn extra_fields(provider: Provider, json: &str) -> Result<Map<String, Value>> {
    const FIELD: &str = "extra_fields_unchecked";
    let map = match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(Error::invalid(FIELD, json, "a JSON object")),
        Err(e) => {
            return Err(Error::invalid(
                FIELD,
                json,
                format!("a JSON object (not JSON: {e})"),
            ))
        }
    };
    let own = provider.spec().own_fields;
    if let Some(key) = map.keys().find(|k| own.contains(&k.as_str())) {
        return Err(Error::invalid(
            FIELD,
            key,
            format!("keys other than the fields this library sets for {provider}; use the job's own setter"),
        ));
    }
    Ok(map)
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

fn describe(source: &ImageSource<'_>) -> String {
    match source {
        ImageSource::Url(u) => u.clone(),
        ImageSource::Path(p) => p.display().to_string(),
        ImageSource::Bytes(b) => format!("{} bytes in memory", b.len()),
    }
}

fn check_image(info: &ImageInfo) -> Result<()> {
    let (w, h) = (info.width, info.height);
    if info.byte_len > image::MAX_IMAGE_BYTES {
        return Err(Error::invalid(
            "image",
            format!("{} bytes", info.byte_len),
            format!("at most {} bytes (50 MB)", image::MAX_IMAGE_BYTES),
        ));
    }
    if w < image::MIN_IMAGE_SIDE || h < image::MIN_IMAGE_SIDE {
        return Err(Error::invalid(
            "image",
            format!("{w}x{h} pixels"),
            format!("at least {0}x{0} pixels", image::MIN_IMAGE_SIDE),
        ));
    }
    let (long, short) = (w.max(h) as u64, w.min(h) as u64);
    if long >= short * image::MAX_ASPECT as u64 {
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

    const SAMPLE: &[u8] = include_bytes!("../examples/sample.png");

    #[test]
    fn the_streamed_body_is_exactly_content_length_and_valid_json() {
        for &provider in Provider::ALL {
            let job = Job::new(SAMPLE).prompt("a \"cat\"");
            let s = prepare(provider, &job).unwrap();
            let slot = ImageErrorSlot::default();
            let mut body = Vec::new();
            s.open_body(&slot).unwrap().read_to_end(&mut body).unwrap();
            assert_eq!(body.len() as u64, s.content_length(), "{provider}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert!(
                v.to_string().contains("data:image/png;base64,"),
                "{provider}"
            );
            assert!(slot.lock().unwrap().is_none());
            // A URL image: the JSON alone.
            let job = Job::new("https://e/x.png");
            let s = prepare(provider, &job).unwrap();
            let mut body = Vec::new();
            s.open_body(&slot).unwrap().read_to_end(&mut body).unwrap();
            assert_eq!(body.len() as u64, s.content_length());
            assert_eq!(s.image_format(), None);
        }
    }

    #[test]
    fn a_file_that_shrinks_while_sent_is_an_image_error() {
        let path = std::env::temp_dir().join(format!("vidu-shrink-{}.png", std::process::id()));
        std::fs::write(&path, SAMPLE).unwrap();
        let job = Job::new(path.as_path());
        let s = prepare(Provider::Vidu, &job).unwrap();
        std::fs::write(&path, &SAMPLE[..SAMPLE.len() / 2]).unwrap();
        let slot = ImageErrorSlot::default();
        let mut body = Vec::new();
        assert!(s.open_body(&slot).unwrap().read_to_end(&mut body).is_err());
        assert_eq!(
            slot.lock().unwrap().as_ref().map(io::Error::kind),
            Some(io::ErrorKind::UnexpectedEof)
        );
        std::fs::remove_file(&path).unwrap();
    }
}
