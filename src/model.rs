//! The vocabulary of models and their limits. Which provider sells which model is in that
//! provider's file (`Provider::models`).
//!
//! Providers add models faster than libraries ship: a job may set
//! [`crate::Job::allow_unknown_model`] to send a model that is not listed, unchecked.

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

pub(crate) const fn q2(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: ONE_TO_TEN,
            resolutions: Q_RES,
        }],
        max_prompt_chars: 2000,
    }
}
pub(crate) const fn q3(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: ONE_TO_SIXTEEN,
            resolutions: Q_RES,
        }],
        max_prompt_chars: 5000,
    }
}
pub(crate) const fn q1(name: &'static str) -> ModelSpec {
    ModelSpec {
        name,
        combos: &[Combo {
            durations: &[5],
            resolutions: &["1080p"],
        }],
        max_prompt_chars: 2000,
    }
}
pub(crate) const fn classic(name: &'static str) -> ModelSpec {
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

/// The largest request body the provider accepts, and the largest decoded inline image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest request body in bytes, if documented.
    pub max_body: Option<u64>,
    /// Largest decoded base64 image in bytes, if documented.
    pub max_decoded_image: Option<u64>,
}
