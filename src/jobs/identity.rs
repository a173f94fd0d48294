//! A job's identity in the journal: a versioned canonical form of what the job asks for and
//! where its video goes, hashed to 16 hex digits (the record's `key`).
//!
//! # Canonical form, version 2
//!
//! A JSON object with sorted keys (serde_json's default map) holding `"v": 2` and only the
//! fields that are set:
//!
//! - `image`: `{"url": "<as given>"}`, `{"path": "<canonical absolute path>"}` (symlinks and
//!   `.`/`..` resolved, so `./cat.png` from another directory is the same image) or
//!   `{"bytes": "<fingerprint of the bytes>"}`;
//! - `output`: the canonical absolute path of the output's folder joined with its file name
//!   (`out/./a.mp4` and `/abs/out/a.mp4` are the same output);
//! - every request field of [`Job`] that is set, under its field name, as JSON.
//!
//! A field that is not set is left out, so a release that adds a `Job` field leaves the
//! identity of every job that does not use it unchanged, and old journals keep matching.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::image::ImageSource;
use crate::job::Job;
use crate::journal::fingerprint;

/// The version of the canonical form below.
pub(crate) const IDENTITY_VERSION: u64 = 2;

/// The canonical form of the job writing to `output`.
pub(crate) fn canonical(job: &Job<'_>, output: &Path) -> String {
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
    } = job;
    let mut m = Map::new();
    m.insert("v".into(), json!(IDENTITY_VERSION));
    let image = match image {
        ImageSource::Url(u) => json!({ "url": u }),
        ImageSource::Path(p) => json!({ "path": canonical_path(p).to_string_lossy() }),
        ImageSource::Bytes(b) => json!({ "bytes": fingerprint([&b[..]]) }),
    };
    m.insert("image".into(), image);
    m.insert(
        "output".into(),
        json!(canonical_output(output).to_string_lossy()),
    );
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(v) = value {
            m.insert(name.into(), v);
        }
    };
    put("model", model.as_ref().map(|v| json!(v)));
    put("prompt", prompt.as_ref().map(|v| json!(v)));
    put("duration", duration.map(|v| json!(v)));
    put("seed", seed.map(|v| json!(v)));
    put("resolution", resolution.as_ref().map(|v| json!(v)));
    put(
        "movement_amplitude",
        movement_amplitude.map(|v| json!(v.as_str())),
    );
    put("bgm", bgm.map(|v| json!(v)));
    put("callback_url", callback_url.as_ref().map(|v| json!(v)));
    put("payload", payload.as_ref().map(|v| json!(v)));
    put("audio", audio.map(|v| json!(v)));
    put("voice_id", voice_id.as_ref().map(|v| json!(v)));
    put("is_rec", is_rec.map(|v| json!(v)));
    put("off_peak", off_peak.map(|v| json!(v)));
    put("watermark", watermark.map(|v| json!(v)));
    put("wm_position", wm_position.map(|v| json!(v)));
    put("wm_url", wm_url.as_ref().map(|v| json!(v)));
    put("meta_data", meta_data.as_ref().map(|v| json!(v)));
    put("extra_fields", extra_fields.as_ref().map(|v| json!(v)));
    put(
        "allow_unknown_model",
        allow_unknown_model.then(|| json!(true)),
    );
    Value::Object(m).to_string()
}

/// The key of a canonical form: 64 bits of its hash.
pub(crate) fn key(canonical: &str) -> u64 {
    u64::from_str_radix(&fingerprint([canonical]), 16).unwrap_or_default()
}

/// `path` made absolute with symlinks resolved; as given (made absolute) when it cannot be
/// resolved.
fn canonical_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path))
}

/// The output's folder resolved, joined with its name (the file itself may not exist yet).
pub(crate) fn canonical_output(output: &Path) -> PathBuf {
    let absolute = absolute(output);
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => canonical_path(parent).join(name),
        _ => absolute,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_the_same_job_have_one_identity() {
        let dir = std::env::temp_dir().join(format!("vidu-identity-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("cat.png"), b"x").unwrap();
        let a = canonical(
            &Job::new(dir.join("cat.png")).prompt("p"),
            &dir.join("out").join("a.mp4"),
        );
        let b = canonical(
            &Job::new(dir.join("out").join("..").join("cat.png")).prompt("p"),
            &dir.join("out").join(".").join("a.mp4"),
        );
        assert_eq!(a, b);
        assert_eq!(key(&a), key(&b));
        // Any field changes it.
        let c = canonical(
            &Job::new(dir.join("cat.png")).prompt("q"),
            &dir.join("out").join("a.mp4"),
        );
        assert_ne!(key(&a), key(&c));
        let d = canonical(
            &Job::new(dir.join("cat.png")).prompt("p").duration(4),
            &dir.join("out").join("a.mp4"),
        );
        assert_ne!(key(&a), key(&d));
        let e = canonical(
            &Job::new(dir.join("cat.png")).prompt("p"),
            &dir.join("out").join("b.mp4"),
        );
        assert_ne!(key(&a), key(&e));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_canonical_form_is_pinned() {
        // Journals written by this version must match in later ones: this text may only change
        // with IDENTITY_VERSION.
        let form = canonical(
            &Job::new("https://example.com/cat.png")
                .prompt("waves")
                .duration(5)
                .bgm(true),
            Path::new("/nonexistent-vidu-dir/a.mp4"),
        );
        assert_eq!(
            form,
            r#"{"bgm":true,"duration":5,"image":{"url":"https://example.com/cat.png"},"output":"/nonexistent-vidu-dir/a.mp4","prompt":"waves","v":2}"#
        );
        assert_eq!(format!("{:016x}", key(&form)), fingerprint([form.as_str()]));
    }
}
