//! What each provider sells: the one table of models and their limits.
//!
//! Providers add models faster than libraries ship: a job may set
//! [`crate::Job::allow_unknown_model`] to send a model that is not listed here, unchecked.

use crate::provider::Provider;

/// A set of durations with the resolutions allowed for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Combo {
    /// Allowed durations, in seconds.
    pub durations: &'static [u32],
    /// Resolutions allowed with those durations.
    pub resolutions: &'static [&'static str],
}

/// The limits of one model at one provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// The upstream Vidu model name, as sent on the wire.
    pub name: &'static str,
    /// Allowed duration/resolution combinations.
    pub combos: &'static [Combo],
    /// Longest prompt, in characters (not bytes).
    pub max_prompt_chars: usize,
}

impl ModelSpec {
    /// Every allowed duration, ascending.
    pub fn durations(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self
            .combos
            .iter()
            .flat_map(|c| c.durations.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Resolutions allowed with `duration` (any duration when `None`).
    pub fn resolutions(&self, duration: Option<u32>) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = Vec::new();
        for c in self.combos {
            if duration.is_none_or(|d| c.durations.contains(&d)) {
                for r in c.resolutions {
                    if !all.contains(r) {
                        all.push(r);
                    }
                }
            }
        }
        all
    }
}

const ONE_TO_TEN: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const ONE_TO_SIXTEEN: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const Q_RES: &[&str] = &["540p", "720p", "1080p"];
const CLASSIC_RES: &[&str] = &["360p", "720p", "1080p"];

const fn q2(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: ONE_TO_TEN,
            resolutions: Q_RES,
        }],
        max_prompt_chars: 2000,
    }
}
const fn q3(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: ONE_TO_SIXTEEN,
            resolutions: Q_RES,
        }],
        max_prompt_chars: 5000,
    }
}
const fn q1(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: &[5],
            resolutions: &["1080p"],
        }],
        max_prompt_chars: 2000,
    }
}
const fn classic(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[
            Combo {
                durations: &[4],
                resolutions: CLASSIC_RES,
            },
            Combo {
                durations: &[8],
                resolutions: &["720p"],
            },
        ],
        max_prompt_chars: 2000,
    }
}

const UMODELVERSE: &[ModelSpec] = &[q2("viduq2-pro"), q2("viduq2-turbo")];
const VTRIX: &[ModelSpec] = &[q1("viduq1-classic")];
const VIDU: &[ModelSpec] = &[
    q3("viduq3-pro"),
    q3("viduq3-turbo"),
    q2("viduq2-pro"),
    q2("viduq2-turbo"),
    q1("viduq1"),
    classic("vidu2.0"),
    classic("vidu1.5"),
];

/// The models `provider` sells.
pub fn models(provider: Provider) -> &'static [ModelSpec] {
    match provider {
        Provider::UModelVerse => UMODELVERSE,
        Provider::Vtrix => VTRIX,
        Provider::Vidu => VIDU,
    }
}

/// The customer-facing prefix Vtrix puts before the upstream model name.
pub const VTRIX_MODEL_PREFIX: &str = "vidu-cn-img2video-";

/// The upstream model name for what a user typed: Vtrix users may type the customer-facing id
/// (`vidu-cn-img2video-viduq1-classic`) or the upstream name (`viduq1-classic`).
pub fn upstream_name(provider: Provider, typed: &str) -> &str {
    match provider {
        Provider::Vtrix => typed.strip_prefix(VTRIX_MODEL_PREFIX).unwrap_or(typed),
        _ => typed,
    }
}

/// The table entry for `name` (either form), if the provider sells it.
pub fn find(provider: Provider, name: &str) -> Option<&'static ModelSpec> {
    let name = upstream_name(provider, name);
    models(provider).iter().find(|m| m.name == name)
}

/// The largest request body the provider accepts, and the largest decoded inline image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest request body in bytes, if documented.
    pub max_body: Option<u64>,
    /// Largest decoded base64 image in bytes, if documented.
    pub max_decoded_image: Option<u64>,
}

/// Largest image file accepted by all providers: 50 MB.
pub const MAX_IMAGE_BYTES: u64 = 50 * 1024 * 1024;
/// Smallest image side, in pixels.
pub const MIN_IMAGE_SIDE: u32 = 128;
/// Largest ratio between the long and the short side (exclusive).
pub const MAX_ASPECT: u32 = 4;
/// Longest `payload` (official API), in characters.
pub const MAX_PAYLOAD_CHARS: usize = 1_048_576;

/// The provider's documented body limits.
pub fn body_limits(provider: Provider) -> BodyLimits {
    const MB: u64 = 1024 * 1024;
    match provider {
        Provider::UModelVerse => BodyLimits {
            max_body: None,
            max_decoded_image: None,
        },
        Provider::Vtrix => BodyLimits {
            max_body: Some(20 * MB),
            max_decoded_image: None,
        },
        Provider::Vidu => BodyLimits {
            max_body: Some(20 * MB),
            max_decoded_image: Some(10 * MB),
        },
    }
}
