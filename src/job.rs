//! The job: what to make. Its checks live in `submission.rs`, which turns a job into the
//! request that will be sent.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::image::ImageSource;

/// How much the camera and subject move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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

/// One image-to-video job: [`Job::new`] with the image, then the setters. Every field left
/// unset takes the provider's default.
///
/// Whether a provider takes a job is checked before anything is sent; [`crate::Client::check`]
/// runs the checks alone (it reads the image's header, and sends nothing):
///
/// ```
/// use vidu::{Client, Config, Error, Job, MovementAmplitude, Provider};
///
/// let client = Client::new(Config::new(Provider::Vidu, "my-api-key"))?;
/// let job = Job::new("examples/sample.png") // or a URL, or bytes
///     .model("viduq2-turbo")
///     .prompt("the cat turns its head")
///     .duration(5)
///     .resolution("720p")
///     .movement_amplitude(MovementAmplitude::Small);
/// client.check(&job)?;
///
/// // Each error names the field, the value and what is allowed.
/// match client.check(&job.clone().duration(99)) {
///     Err(Error::InvalidInput { field, value, allowed, .. }) => {
///         assert_eq!((field, value.as_str()), ("duration", "99"));
///         println!("allowed: {allowed}");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), vidu::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Job<'a> {
    /// Model name; default [`crate::Provider::default_model`]. For Vtrix either the upstream
    /// name (`viduq1-classic`) or the customer-facing id (`vidu-cn-img2video-viduq1-classic`).
    pub model: Option<String>,
    /// The first frame: a URL, a file or bytes. Required.
    pub image: ImageSource<'a>,
    /// What should happen in the video. Length limit per model, in characters. Default none.
    pub prompt: Option<String>,
    /// Seconds of video; allowed values per model. Default: the provider's.
    pub duration: Option<u32>,
    /// Random seed; 0 or `None` lets the provider choose. Not on Vtrix.
    pub seed: Option<u64>,
    /// `"540p"`, `"720p"`, `"1080p"`, `"360p"`; allowed values per model and duration.
    /// Default: the provider's.
    pub resolution: Option<String>,
    /// Default: provider's (auto).
    pub movement_amplitude: Option<MovementAmplitude>,
    /// Add background music (UModelVerse, official API). Default: provider's (false).
    pub bgm: Option<bool>,
    /// URL the provider calls when the task ends (Vtrix, official API). Default none.
    pub callback_url: Option<String>,
    /// Opaque text returned with the task (official API), at most 1,048,576 characters.
    /// Default none.
    pub payload: Option<String>,
    /// Video with sound and speech (official API). Default: the model's.
    pub audio: Option<bool>,
    /// The voice of the speech (official API); only with `audio` true. Default none.
    pub voice_id: Option<String>,
    /// Let the service write the prompt (official API; costs extra credits). Default false.
    pub is_rec: Option<bool>,
    /// Off-peak generation (official API): fewer credits, done within 48 hours (cancelled and
    /// refunded otherwise). Not with `audio`. Default false.
    pub off_peak: Option<bool>,
    /// Add a watermark (official API). Default: the provider's.
    pub watermark: Option<bool>,
    /// Watermark corner, 1 to 4 (official API). Default: the provider's.
    pub wm_position: Option<u32>,
    /// Watermark image URL (official API). Default: the provider's mark.
    pub wm_url: Option<String>,
    /// Metadata text stored with the video (official API). Default none.
    pub meta_data: Option<String>,
    /// Extra JSON fields sent as given, unchecked: a JSON object whose keys must not be fields
    /// this library sets. For fields providers added after this release. Default none. Set it
    /// with [`Job::extra_fields_unchecked`].
    pub extra_fields: Option<String>,
    /// Send a model missing from the provider's table ([`crate::Provider::models`]) without
    /// checking duration, resolution or prompt length against it. Default false.
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
            audio: None,
            voice_id: None,
            is_rec: None,
            off_peak: None,
            watermark: None,
            wm_position: None,
            wm_url: None,
            meta_data: None,
            extra_fields: None,
            allow_unknown_model: false,
        }
    }

    /// Sets the image.
    pub fn image(mut self, image: impl Into<ImageSource<'a>>) -> Self {
        self.image = image.into();
        self
    }
    /// Sets the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    /// Sets the prompt.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }
    /// Sets the duration in seconds.
    pub fn duration(mut self, seconds: u32) -> Self {
        self.duration = Some(seconds);
        self
    }
    /// Sets the random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Sets the resolution.
    pub fn resolution(mut self, resolution: impl Into<String>) -> Self {
        self.resolution = Some(resolution.into());
        self
    }
    /// Sets the movement amplitude.
    pub fn movement_amplitude(mut self, amplitude: MovementAmplitude) -> Self {
        self.movement_amplitude = Some(amplitude);
        self
    }
    /// Sets background music on or off.
    pub fn bgm(mut self, bgm: bool) -> Self {
        self.bgm = Some(bgm);
        self
    }
    /// Sets the callback URL.
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }
    /// The same job, borrowing its image bytes instead of copying them (a batch tags a copy).
    pub(crate) fn reborrow(&self) -> Job<'_> {
        // Destructured, so that a new field cannot be forgotten here.
        let Job {
            model,
            image,
            prompt,
            duration,
            seed,
            resolution,
            movement_amplitude,
            bgm,
            callback_url,
            payload,
            audio,
            voice_id,
            is_rec,
            off_peak,
            watermark,
            wm_position,
            wm_url,
            meta_data,
            extra_fields,
            allow_unknown_model,
        } = self;
        Job {
            model: model.clone(),
            image: image.reborrow(),
            prompt: prompt.clone(),
            duration: *duration,
            seed: *seed,
            resolution: resolution.clone(),
            movement_amplitude: *movement_amplitude,
            bgm: *bgm,
            callback_url: callback_url.clone(),
            payload: payload.clone(),
            audio: *audio,
            voice_id: voice_id.clone(),
            is_rec: *is_rec,
            off_peak: *off_peak,
            watermark: *watermark,
            wm_position: *wm_position,
            wm_url: wm_url.clone(),
            meta_data: meta_data.clone(),
            extra_fields: extra_fields.clone(),
            allow_unknown_model: *allow_unknown_model,
        }
    }

    /// Sets the payload.
    pub fn payload(mut self, payload: impl Into<String>) -> Self {
        self.payload = Some(payload.into());
        self
    }
    /// Sets audio on or off.
    pub fn audio(mut self, audio: bool) -> Self {
        self.audio = Some(audio);
        self
    }
    /// Sets the voice (needs audio).
    pub fn voice_id(mut self, voice_id: impl Into<String>) -> Self {
        self.voice_id = Some(voice_id.into());
        self
    }
    /// Sets whether the service writes the prompt.
    pub fn is_rec(mut self, is_rec: bool) -> Self {
        self.is_rec = Some(is_rec);
        self
    }
    /// Sets off-peak generation.
    pub fn off_peak(mut self, off_peak: bool) -> Self {
        self.off_peak = Some(off_peak);
        self
    }
    /// Sets the watermark on or off.
    pub fn watermark(mut self, watermark: bool) -> Self {
        self.watermark = Some(watermark);
        self
    }
    /// Sets the watermark corner, 1 to 4.
    pub fn wm_position(mut self, corner: u32) -> Self {
        self.wm_position = Some(corner);
        self
    }
    /// Sets the watermark image URL.
    pub fn wm_url(mut self, url: impl Into<String>) -> Self {
        self.wm_url = Some(url.into());
        self
    }
    /// Sets the metadata text.
    pub fn meta_data(mut self, meta_data: impl Into<String>) -> Self {
        self.meta_data = Some(meta_data.into());
        self
    }
    /// Sets whether a model missing from the table is sent unchecked.
    pub fn allow_unknown_model(mut self, allow: bool) -> Self {
        self.allow_unknown_model = allow;
        self
    }
    /// Adds extra JSON fields to the request, unchecked: `json` must be a JSON object, and its
    /// keys must not be fields this library sets (use their setters). The name says it: the
    /// provider's rules for these fields are not checked before sending.
    pub fn extra_fields_unchecked(mut self, json: impl Into<String>) -> Self {
        self.extra_fields = Some(json.into());
        self
    }
}
