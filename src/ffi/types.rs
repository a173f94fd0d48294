//! The option structs C fills in (zero means "default") and their conversion to the Rust types.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, c_void};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use super::boundary::vidu_error;
use super::boundary::{arg_bytes, arg_str, c_string, opt_ref, opt_str};
use super::{
    auth_scheme_from_code, movement_from_code, provider_from_code, tristate, vidu_auth_scheme,
    vidu_cancel_token, vidu_movement_amplitude, vidu_provider, vidu_state, vidu_tristate,
};
use crate::client::{Progress, ProgressCallback, WaitOptions};
use crate::config::{CaCertificates, Config, TrustStore};
use crate::image::ImageSource;
use crate::job::Job;

/// Everything a client needs. Zero (or NULL) in any field but `struct_size` means its default,
/// so `vidu_config cfg = {.struct_size = sizeof cfg, .provider = VIDU_PROVIDER_VIDU,
/// .api_key = key};` is complete. Durations are in seconds and may be fractional. Read only
/// during `vidu_client_new`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_config {
    /// Required: `sizeof(vidu_config)` as the program was compiled (see the header's top).
    pub struct_size: usize,
    /// Required: `VIDU_PROVIDER_UMODELVERSE`, `VIDU_PROVIDER_VTRIX` or `VIDU_PROVIDER_VIDU`.
    pub provider: vidu_provider,
    /// Required: the API key (UTF-8, no spaces).
    pub api_key: *const c_char,
    /// Base URL, scheme and host with an optional path prefix. Default: the provider's
    /// production URL. Point it at `vidu_emulator_base_url` to work offline.
    pub base_url: *const c_char,
    /// `VIDU_AUTH_*`. Default: the provider's documented scheme.
    pub auth_scheme: vidu_auth_scheme,
    /// Resolving and connecting, TLS included. Default 10 s.
    pub connect_timeout_secs: f64,
    /// Sending a request, in all. Default 600 s.
    pub send_timeout_secs: f64,
    /// Waiting for a response, and the longest stall of any read or write. Default 30 s.
    pub receive_timeout_secs: f64,
    /// Delay before the first status poll, and the smallest delay. Default 2 s.
    pub poll_first_secs: f64,
    /// Largest delay between polls. Default 15 s, or `poll_first_secs` when that is larger.
    pub poll_max_secs: f64,
    /// Factor between consecutive poll delays, 1.0 to 10.0. Default 1.5.
    pub poll_growth: f64,
    /// Random fraction taken off each poll delay, up to 0.5. Default 0.1; a negative value
    /// means no jitter.
    pub poll_jitter: f64,
    /// Attempts per request, the first included; 1 disables retries. Default 5.
    pub retry_max_attempts: u32,
    /// Base of the exponential backoff between retries. Default 0.5 s.
    pub retry_base_secs: f64,
    /// Largest backoff delay. Default 10 s.
    pub retry_max_delay_secs: f64,
    /// Largest `Retry-After` honoured. Default 60 s.
    pub retry_max_retry_after_secs: f64,
    /// The `User-Agent`. Default `vidu-rust/<version>`.
    pub user_agent: *const c_char,
    /// Largest status or error body read, in bytes. Default 1 MiB.
    pub max_status_body: u64,
    /// Use `HTTPS_PROXY` and friends from the environment: `VIDU_TRISTATE_*`. Default yes.
    pub proxy_from_env: vidu_tristate,
    /// Largest video downloaded, in bytes: a larger declared size is refused at once, a body
    /// that runs past it is stopped and its partial file removed. Default 2 GiB.
    pub max_video_bytes: u64,
    /// Consecutive stalls (no data for `receive_timeout_secs`) after which a download gives
    /// up, keeping its partial file for a later resume. Default 3.
    pub max_download_stalls: u32,
    /// The longest an API answer may take, from the end of sending the request to its last
    /// byte, however steadily it trickles in. Default 60 s. Not for uploads (`send_timeout_secs`)
    /// nor video downloads (`max_download_stalls`).
    pub request_timeout_secs: f64,
    /// `VIDU_TRUST_*`: which certificate authorities servers must chain to. Default
    /// `VIDU_TRUST_BUNDLED`.
    pub trust_store: vidu_trust_store,
    /// A PEM file of CA certificates trusted too (only these, with `VIDU_TRUST_CA_ONLY`): the
    /// CA of a proxy that inspects TLS, or of a gateway on a private CA. Read and checked by
    /// `vidu_client_new`. Not with `ca_pem`.
    pub ca_file: *const c_char,
    /// PEM text of CA certificates trusted too, as `ca_file`: `ca_pem_len` bytes at `ca_pem`,
    /// copied by `vidu_client_new`. Not with `ca_file`.
    pub ca_pem: *const u8,
    /// The length of `ca_pem` in bytes.
    pub ca_pem_len: usize,
}

/// Which certificate authorities servers must chain to: `VIDU_TRUST_*`.
pub type vidu_trust_store = u32;
/// Mozilla's roots, compiled into the library, plus `ca_file` or `ca_pem` if set. The default.
pub const VIDU_TRUST_BUNDLED: vidu_trust_store = 0;
/// Only the certificates of `ca_file` or `ca_pem`, which must be set.
pub const VIDU_TRUST_CA_ONLY: vidu_trust_store = 1;
/// The operating system's trust store; needs a library built with the `platform-verifier`
/// feature (else `vidu_client_new` fails with `VIDU_ERROR_INVALID_INPUT`). Not with `ca_file`
/// or `ca_pem`.
pub const VIDU_TRUST_SYSTEM: vidu_trust_store = 2;

/// One image-to-video job. Zero (or NULL) in any field means the provider's default, except
/// `struct_size` and the image: set exactly one of `image_path`, `image_url`, or `image_data`
/// with `image_len`. Everything is borrowed for the duration of the call only; image bytes are
/// not copied.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_job {
    /// Required: `sizeof(vidu_job)` as the program was compiled (see the header's top).
    pub struct_size: usize,
    /// A local PNG, JPEG or WebP file, sent inline.
    pub image_path: *const c_char,
    /// An `http(s)` URL the provider fetches itself.
    pub image_url: *const c_char,
    /// A PNG, JPEG or WebP image in memory, sent inline: `image_len` bytes at `image_data`.
    pub image_data: *const u8,
    /// The length of `image_data` in bytes.
    pub image_len: usize,
    /// The model. Default: the provider's (`viduq2-pro`; Vtrix `viduq1-classic`).
    pub model: *const c_char,
    /// What should happen in the video.
    pub prompt: *const c_char,
    /// Seconds of video; allowed values depend on the model.
    pub duration: u32,
    /// Random seed; 0 lets the provider choose.
    pub seed: u64,
    /// `"540p"`, `"720p"`, `"1080p"` or `"360p"`, depending on the model and duration.
    pub resolution: *const c_char,
    /// `VIDU_MOVEMENT_*`.
    pub movement_amplitude: vidu_movement_amplitude,
    /// Background music (UModelVerse and the official API): `VIDU_TRISTATE_*`.
    pub bgm: vidu_tristate,
    /// URL the provider calls when the task ends (Vtrix and the official API).
    pub callback_url: *const c_char,
    /// Opaque text returned with the task (official API only).
    pub payload: *const c_char,
    /// Non-zero: send a model this library does not know, without checking its limits.
    pub allow_unknown_model: u32,
    /// The voice of the speech (official API); only with `audio` = `VIDU_TRISTATE_TRUE`.
    pub voice_id: *const c_char,
    /// Watermark image URL (official API).
    pub wm_url: *const c_char,
    /// Metadata text stored with the video (official API).
    pub meta_data: *const c_char,
    /// Extra JSON fields sent as given, unchecked: a JSON object whose keys are not fields
    /// this library sets. For fields providers added after this release.
    pub extra_fields_unchecked: *const c_char,
    /// Video with sound and speech (official API): `VIDU_TRISTATE_*`.
    pub audio: vidu_tristate,
    /// Let the service write the prompt (official API, extra credits): `VIDU_TRISTATE_*`.
    pub is_rec: vidu_tristate,
    /// Off-peak generation (official API): fewer credits, done within 48 hours; not with
    /// audio. `VIDU_TRISTATE_*`.
    pub off_peak: vidu_tristate,
    /// Watermark (official API): `VIDU_TRISTATE_*`.
    pub watermark: vidu_tristate,
    /// Watermark corner, 1 to 4 (official API); 0: the provider's default.
    pub wm_position: u32,
}

/// What the progress callback sees after each poll. Its strings are valid during the callback
/// only.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_progress {
    /// `sizeof(vidu_progress)` in the library: fields past it (added by a newer header) are not
    /// there.
    pub struct_size: usize,
    /// The task being waited for.
    pub task_id: *const c_char,
    /// `VIDU_STATE_*`.
    pub state: vidu_state,
    /// The provider's own state string (`"Running"`, `"in_progress"`, `"queueing"`).
    pub raw_state: *const c_char,
    /// Progress from 0.0 to 1.0 where the provider reports it, else -1.
    pub progress: f64,
    /// Seconds since the wait started.
    pub elapsed_secs: f64,
    /// Polls made so far in this wait.
    pub polls: u32,
}

/// Called on the waiting thread after each poll, with the `userdata` given in
/// `vidu_wait_options`. Return `VIDU_PROGRESS_CONTINUE` to go on waiting, `VIDU_PROGRESS_STOP`
/// (or any other non-zero value) to stop the wait, which then fails with `VIDU_ERROR_CANCELLED`
/// (the task goes on at the provider).
pub type vidu_progress_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, progress: *const vidu_progress) -> c_int>;

/// How to wait. All zero but `struct_size` (or a NULL pointer to this struct) means: the default
/// deadline of 30 minutes, no cancel token, no callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct vidu_wait_options {
    /// Required: `sizeof(vidu_wait_options)` as the program was compiled (see the header's top).
    pub struct_size: usize,
    /// Give up after this many seconds with `VIDU_ERROR_TIMEOUT` (the error carries the task
    /// id; `vidu_client_resume` picks it up later). 0: the default, 30 minutes; `INFINITY`: no
    /// deadline.
    pub timeout_secs: f64,
    /// A token that stops the wait at once when triggered from any thread, or NULL. It must
    /// stay alive until the call returns.
    pub cancel: *const vidu_cancel_token,
    /// Called after each poll, or NULL.
    pub on_progress: vidu_progress_callback,
    /// Passed to `on_progress`; must stay valid until the call returns.
    pub userdata: *mut c_void,
}

/// A struct that crosses the C ABI with its size first (`size_t struct_size`), so that it can
/// grow: a program compiled against an older header passes a smaller size and gets the
/// defaults for the fields it does not know; a program compiled against a newer header passes
/// a larger size, accepted while the bytes this library does not know are zero.
///
/// # Safety
///
/// `Self` is `repr(C)`, starts with `struct_size: usize`, and all-zero bytes are a valid value
/// (NULL pointers, zero numbers, `None` callbacks).
pub(super) unsafe trait SizedStruct: Copy {
    /// The C name, for messages.
    const NAME: &'static str;
    /// `(offset, size)` of every field, in order: a size may not cut one.
    fn fields() -> Vec<(usize, usize)>;
}

/// The largest `struct_size` considered at all: past it, the size is garbage, not a newer header.
const MAX_STRUCT_SIZE: usize = 4096;

/// Checks a caller's `struct_size` for `T`: at least the size field itself, not cutting a field,
/// and not absurd. Returns how many bytes of `T` to copy.
fn checked_size<T: SizedStruct>(size: usize, name: &str) -> Result<usize, vidu_error> {
    let cut = T::fields()
        .into_iter()
        .find(|&(offset, len)| offset < size && size < offset + len);
    if size < std::mem::size_of::<usize>() || size > MAX_STRUCT_SIZE || cut.is_some() {
        return Err(vidu_error::invalid_argument(
            &format!("{name}->struct_size"),
            format!(
                "{size} is not the size of a {}: set it to sizeof({}) ({} in this library)",
                T::NAME,
                T::NAME,
                std::mem::size_of::<T>()
            ),
        ));
    }
    Ok(size.min(std::mem::size_of::<T>()))
}

/// Reads a `T` the caller sized with its `struct_size`; fields past that size are zero (their
/// defaults).
pub(super) fn read_sized<T: SizedStruct>(
    ptr: *const T,
    name: &'static str,
) -> Result<T, vidu_error> {
    let Some(first) = opt_ref(ptr.cast::<usize>()) else {
        return Err(vidu_error::null_argument(name));
    };
    let size = *first;
    let known = checked_size::<T>(size, name)?;
    if size > known {
        // SAFETY: the caller declares `size` readable bytes at `ptr`.
        let newer =
            unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(known), size - known) };
        if newer.iter().any(|b| *b != 0) {
            return Err(vidu_error::invalid_argument(
                &format!("{name}->struct_size"),
                format!(
                    "{size} bytes with fields set past the {known} this library knows (a newer \
                     vidu.h than the library, version {}?)",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    // SAFETY: all-zero is a valid `T` (`SizedStruct` contract); `known` bytes are readable at `ptr`
    // (declared by the caller) and fit in `T`; the copy keeps field boundaries (checked above).
    unsafe {
        let mut value: T = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&mut value as *mut T).cast::<u8>(), known);
        Ok(value)
    }
}

/// The caller's `T` to be written at the end of a successful call, its `struct_size` checked up
/// front.
pub(super) struct SizedOut<T> {
    out: *mut T,
    known: usize,
}

/// Checks the caller's output struct `T` now; it is written later with [`SizedOut::set`].
pub(super) fn sized_out<T: SizedStruct>(
    out: *mut T,
    name: &'static str,
) -> Result<SizedOut<T>, vidu_error> {
    let Some(first) = opt_ref(out.cast_const().cast::<usize>()) else {
        return Err(vidu_error::null_argument(name));
    };
    let known = checked_size::<T>(*first, name)?;
    Ok(SizedOut { out, known })
}

impl<T: SizedStruct> SizedOut<T> {
    /// Writes as many bytes of `value` as the caller's `struct_size` holds, keeping that size.
    pub(super) fn set(self, value: T) {
        let skip = std::mem::size_of::<usize>();
        // SAFETY: the caller declares `struct_size` >= `known` writable bytes at `out`; the copy
        // starts after the size field and ends on a field boundary (checked in `sized_out`).
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&value as *const T).cast::<u8>().add(skip),
                self.out.cast::<u8>().add(skip),
                self.known - skip,
            );
        }
    }
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_config {
    const NAME: &'static str = "vidu_config";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_config: struct_size, provider, api_key, base_url, auth_scheme,
            connect_timeout_secs, send_timeout_secs, receive_timeout_secs, poll_first_secs,
            poll_max_secs, poll_growth, poll_jitter, retry_max_attempts, retry_base_secs,
            retry_max_delay_secs, retry_max_retry_after_secs, user_agent, max_status_body,
            proxy_from_env, max_video_bytes, max_download_stalls, request_timeout_secs,
            trust_store, ca_file, ca_pem, ca_pem_len)
    }
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_job {
    const NAME: &'static str = "vidu_job";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_job: struct_size, image_path, image_url, image_data, image_len, model,
            prompt, duration, seed, resolution, movement_amplitude, bgm, callback_url, payload,
            allow_unknown_model, voice_id, wm_url, meta_data, extra_fields_unchecked, audio,
            is_rec, off_peak, watermark, wm_position)
    }
}

// SAFETY: repr(C), `struct_size: usize` first, all-zero valid.
unsafe impl SizedStruct for vidu_wait_options {
    const NAME: &'static str = "vidu_wait_options";
    fn fields() -> Vec<(usize, usize)> {
        fields!(vidu_wait_options: struct_size, timeout_secs, cancel, on_progress, userdata)
    }
}

/// A duration field: 0 means `None` (the default); negative, NaN and infinite values are errors.
pub(super) fn secs(v: f64, name: &'static str) -> Result<Option<Duration>, vidu_error> {
    if v == 0.0 {
        return Ok(None);
    }
    if !v.is_finite() || v < 0.0 {
        return Err(vidu_error::invalid_argument(
            name,
            format!("{v} is not a number of seconds above 0 (0 means the default)"),
        ));
    }
    Duration::try_from_secs_f64(v)
        .map(Some)
        .map_err(|_| vidu_error::invalid_argument(name, format!("{v} seconds is too long")))
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

impl vidu_config {
    /// The Rust configuration; `Client::new` then checks every value.
    pub(super) fn rust_config(&self) -> Result<Config, vidu_error> {
        let provider = provider_from_code(self.provider, "config->provider")?;
        let api_key = arg_str(self.api_key, "config->api_key")?;
        let mut config = Config::new(provider, api_key);
        set(
            &mut config.base_url,
            opt_str(self.base_url, "config->base_url")?.map(str::to_owned),
        );
        if self.auth_scheme != 0 {
            config.auth_scheme = auth_scheme_from_code(self.auth_scheme, "config->auth_scheme")?;
        }
        let t = &mut config.timeouts;
        set(
            &mut t.connect,
            secs(self.connect_timeout_secs, "config->connect_timeout_secs")?,
        );
        set(
            &mut t.send,
            secs(self.send_timeout_secs, "config->send_timeout_secs")?,
        );
        set(
            &mut t.receive,
            secs(self.receive_timeout_secs, "config->receive_timeout_secs")?,
        );
        let p = &mut config.poll;
        set(
            &mut p.first,
            secs(self.poll_first_secs, "config->poll_first_secs")?,
        );
        match secs(self.poll_max_secs, "config->poll_max_secs")? {
            Some(max) => p.max = max,
            None => p.max = p.max.max(p.first),
        }
        if self.poll_growth != 0.0 {
            p.growth = self.poll_growth;
        }
        if self.poll_jitter < 0.0 {
            p.jitter = 0.0;
        } else if self.poll_jitter != 0.0 {
            p.jitter = self.poll_jitter;
        }
        let r = &mut config.retry;
        if self.retry_max_attempts != 0 {
            r.max_attempts = self.retry_max_attempts;
        }
        set(
            &mut r.base,
            secs(self.retry_base_secs, "config->retry_base_secs")?,
        );
        set(
            &mut r.max_delay,
            secs(self.retry_max_delay_secs, "config->retry_max_delay_secs")?,
        );
        set(
            &mut r.max_retry_after,
            secs(
                self.retry_max_retry_after_secs,
                "config->retry_max_retry_after_secs",
            )?,
        );
        set(
            &mut config.user_agent,
            opt_str(self.user_agent, "config->user_agent")?.map(str::to_owned),
        );
        if self.max_status_body != 0 {
            config.max_status_body = self.max_status_body;
        }
        set(
            &mut config.proxy_from_env,
            tristate(self.proxy_from_env, "config->proxy_from_env")?,
        );
        if self.max_video_bytes != 0 {
            config.max_video_bytes = self.max_video_bytes;
        }
        if self.max_download_stalls != 0 {
            config.max_download_stalls = self.max_download_stalls;
        }
        set(
            &mut config.timeouts.request,
            secs(self.request_timeout_secs, "config->request_timeout_secs")?,
        );
        config.trust_store = match self.trust_store {
            VIDU_TRUST_BUNDLED => TrustStore::Bundled,
            VIDU_TRUST_CA_ONLY => TrustStore::CaOnly,
            VIDU_TRUST_SYSTEM => TrustStore::System,
            other => {
                return Err(vidu_error::invalid_argument(
                    "config->trust_store",
                    format!(
                        "{other} is not one of 0 (VIDU_TRUST_BUNDLED), 1 (VIDU_TRUST_CA_ONLY), \
                         2 (VIDU_TRUST_SYSTEM)"
                    ),
                ))
            }
        };
        let ca_file = opt_str(self.ca_file, "config->ca_file")?;
        let ca_pem = arg_bytes(self.ca_pem, self.ca_pem_len, "config->ca_pem")?;
        config.ca_certificates = match (ca_file, ca_pem.is_empty()) {
            (None, true) => None,
            (Some(path), true) => Some(CaCertificates::File(PathBuf::from(path))),
            (None, false) => Some(CaCertificates::Pem(ca_pem.to_vec())),
            (Some(_), false) => {
                return Err(vidu_error::invalid_argument(
                    "config->ca_file",
                    "both ca_file and ca_pem are set: set only one",
                ))
            }
        };
        Ok(config)
    }
}

impl vidu_job {
    /// The Rust job, borrowing the image bytes.
    pub(super) fn rust_job<'a>(&'a self) -> Result<Job<'a>, vidu_error> {
        let path = opt_str(self.image_path, "job->image_path")?;
        let url = opt_str(self.image_url, "job->image_url")?;
        let bytes = if self.image_data.is_null() && self.image_len == 0 {
            None
        } else {
            Some(arg_bytes(
                self.image_data,
                self.image_len,
                "job->image_data",
            )?)
        };
        let image = match (path, url, bytes) {
            (Some(p), None, None) => ImageSource::Path(PathBuf::from(p)),
            (None, Some(u), None) => ImageSource::Url(u.to_owned()),
            (None, None, Some(b)) => ImageSource::Bytes(Cow::Borrowed(b)),
            (None, None, None) => {
                return Err(vidu_error::invalid_argument(
                    "job->image_path",
                    "no image: set one of image_path, image_url, or image_data with image_len",
                ))
            }
            _ => {
                return Err(vidu_error::invalid_argument(
                    "job->image_path",
                    "more than one image: set only one of image_path, image_url, or image_data with image_len",
                ))
            }
        };
        let owned = |p, name| opt_str(p, name).map(|s| s.map(str::to_owned));
        let mut job = Job::new(image);
        job.model = owned(self.model, "job->model")?;
        job.prompt = owned(self.prompt, "job->prompt")?;
        job.duration = (self.duration != 0).then_some(self.duration);
        job.seed = (self.seed != 0).then_some(self.seed);
        job.resolution = owned(self.resolution, "job->resolution")?;
        if self.movement_amplitude != 0 {
            job.movement_amplitude = Some(movement_from_code(
                self.movement_amplitude,
                "job->movement_amplitude",
            )?);
        }
        job.bgm = tristate(self.bgm, "job->bgm")?;
        job.callback_url = owned(self.callback_url, "job->callback_url")?;
        job.payload = owned(self.payload, "job->payload")?;
        job.allow_unknown_model = self.allow_unknown_model != 0;
        job.audio = tristate(self.audio, "job->audio")?;
        job.voice_id = owned(self.voice_id, "job->voice_id")?;
        job.is_rec = tristate(self.is_rec, "job->is_rec")?;
        job.off_peak = tristate(self.off_peak, "job->off_peak")?;
        job.watermark = tristate(self.watermark, "job->watermark")?;
        job.wm_position = (self.wm_position != 0).then_some(self.wm_position);
        job.wm_url = owned(self.wm_url, "job->wm_url")?;
        job.meta_data = owned(self.meta_data, "job->meta_data")?;
        job.extra_fields = owned(self.extra_fields_unchecked, "job->extra_fields_unchecked")?;
        Ok(job)
    }
}

/// The Rust wait options for `options` (NULL: the defaults). The callback and its userdata are
/// used only on the calling thread, during the call.
pub(super) fn wait_options<'a>(
    options: *const vidu_wait_options,
) -> Result<WaitOptions<'a>, vidu_error> {
    if options.is_null() {
        return Ok(WaitOptions::default());
    }
    let o = read_sized(options, "options")?;
    // 0: the default deadline (30 minutes); infinity: none.
    let timeout = if o.timeout_secs == f64::INFINITY {
        None
    } else {
        secs(o.timeout_secs, "options->timeout_secs")?.or(WaitOptions::default().timeout)
    };
    let cancel = opt_ref(o.cancel).map(|t| t.token.clone());
    let userdata = o.userdata;
    let on_progress = o.on_progress.map(|callback| {
        Box::new(move |p: &Progress<'_>| {
            let task_id = c_string(&p.status.task_id);
            let raw_state = c_string(&p.status.raw_state);
            let progress = vidu_progress {
                struct_size: std::mem::size_of::<vidu_progress>(),
                task_id: task_id.as_ptr(),
                state: p.status.state as vidu_state,
                raw_state: raw_state.as_ptr(),
                progress: p.status.progress.map_or(-1.0, f64::from),
                elapsed_secs: p.elapsed.as_secs_f64(),
                polls: p.polls,
            };
            // SAFETY: the caller gave this callback and its userdata for this call, on this
            // thread; `progress` and its strings outlive the call.
            if unsafe { callback(userdata, &progress) } == 0 {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }) as ProgressCallback<'a>
    });
    let mut options = WaitOptions::new().timeout(timeout);
    options.cancel = cancel;
    options.on_progress = on_progress;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::vidu_credits;

    /// Every field is listed: between two listed fields, and after the last, there is only
    /// padding (less than the next field's size, or the struct's alignment).
    fn covers<T: SizedStruct>() {
        let fields = T::fields();
        assert_eq!(fields[0], (0, std::mem::size_of::<usize>()), "{}", T::NAME);
        for pair in fields.windows(2) {
            let ((a, a_len), (b, b_len)) = (pair[0], pair[1]);
            assert!(
                b >= a + a_len && b - (a + a_len) < b_len,
                "{}: a field is missing",
                T::NAME
            );
        }
        let (last, len) = *fields.last().unwrap();
        assert!(
            std::mem::size_of::<T>() - (last + len) < std::mem::align_of::<T>(),
            "{}",
            T::NAME
        );
    }

    #[test]
    fn field_lists_cover_their_structs() {
        covers::<vidu_config>();
        covers::<vidu_job>();
        covers::<vidu_wait_options>();
        covers::<vidu_credits>();
    }
}
