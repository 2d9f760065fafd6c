//! Sampler parameters, their validation (as the reference validates them) and precedence
//! (command line > GGUF `diffusion.eb_*` > built-in defaults).

use crate::error::SamplerError;

/// The parameters of the entropy-bounded sampler (../shared/spec/sampler.md §1).
///
/// Float parameters are kept as `f64` because the reference holds them as Python floats; the
/// places where the reference turns them into f32 tensors (temperature, bound and confidence
/// comparisons) do the same conversion explicitly.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerParams {
    /// Tokens to generate (`-n`); blocks = ceil(max_new_tokens / canvas_length).
    pub max_new_tokens: usize,
    /// Maximum denoising steps per block `S`.
    pub max_steps: u32,
    /// Entropy bound `B` of the acceptance rule.
    pub entropy_bound: f64,
    /// Temperature at the last step limit (t at n = 0).
    pub t_min: f64,
    /// Temperature at the first step.
    pub t_max: f64,
    /// Steps the argmax canvas must repeat before the block may stop (0 = always stable).
    pub stability_threshold: u32,
    /// Mean entropy (nats) below which a stable block stops.
    pub confidence_threshold: f64,
}

impl Default for SamplerParams {
    /// The reference's `_get_default_generation_params`.
    fn default() -> Self {
        SamplerParams {
            max_new_tokens: 256,
            max_steps: 48,
            entropy_bound: 0.1,
            t_min: 0.4,
            t_max: 0.8,
            stability_threshold: 1,
            confidence_threshold: 0.005,
        }
    }
}

/// Optional values from one source (command line, or GGUF metadata). `None` = not given there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SamplerOverrides {
    /// See [`SamplerParams::max_new_tokens`].
    pub max_new_tokens: Option<usize>,
    /// See [`SamplerParams::max_steps`].
    pub max_steps: Option<u32>,
    /// See [`SamplerParams::entropy_bound`].
    pub entropy_bound: Option<f64>,
    /// See [`SamplerParams::t_min`].
    pub t_min: Option<f64>,
    /// See [`SamplerParams::t_max`].
    pub t_max: Option<f64>,
    /// See [`SamplerParams::stability_threshold`].
    pub stability_threshold: Option<u32>,
    /// See [`SamplerParams::confidence_threshold`].
    pub confidence_threshold: Option<f64>,
}

impl SamplerOverrides {
    /// Values of `self` where given, otherwise those of `lower`.
    pub fn or(&self, lower: &SamplerOverrides) -> SamplerOverrides {
        SamplerOverrides {
            max_new_tokens: self.max_new_tokens.or(lower.max_new_tokens),
            max_steps: self.max_steps.or(lower.max_steps),
            entropy_bound: self.entropy_bound.or(lower.entropy_bound),
            t_min: self.t_min.or(lower.t_min),
            t_max: self.t_max.or(lower.t_max),
            stability_threshold: self.stability_threshold.or(lower.stability_threshold),
            confidence_threshold: self.confidence_threshold.or(lower.confidence_threshold),
        }
    }

    /// Fills the gaps with `base`.
    pub fn over(&self, base: &SamplerParams) -> SamplerParams {
        SamplerParams {
            max_new_tokens: self.max_new_tokens.unwrap_or(base.max_new_tokens),
            max_steps: self.max_steps.unwrap_or(base.max_steps),
            entropy_bound: self.entropy_bound.unwrap_or(base.entropy_bound),
            t_min: self.t_min.unwrap_or(base.t_min),
            t_max: self.t_max.unwrap_or(base.t_max),
            stability_threshold: self.stability_threshold.unwrap_or(base.stability_threshold),
            confidence_threshold: self.confidence_threshold.unwrap_or(base.confidence_threshold),
        }
    }
}

impl SamplerParams {
    /// Command line > GGUF `diffusion.eb_*` > defaults, then [`SamplerParams::validate`].
    pub fn resolve(
        cli: &SamplerOverrides,
        gguf: &SamplerOverrides,
    ) -> Result<SamplerParams, SamplerError> {
        let p = cli.or(gguf).over(&SamplerParams::default());
        p.validate()?;
        Ok(p)
    }

    /// Rejects the values `DiffusionGemmaGenerationConfig.validate` and
    /// `EntropyBoundSamplerConfig.__post_init__` reject (plus non-finite floats).
    pub fn validate(&self) -> Result<(), SamplerError> {
        fn bad(name: &'static str, value: impl ToString, reason: &'static str) -> SamplerError {
            SamplerError::InvalidParam { name, value: value.to_string(), reason }
        }
        if self.max_new_tokens == 0 {
            return Err(bad("max_new_tokens", 0, "must be a positive integer"));
        }
        if self.max_steps == 0 {
            return Err(bad("max_denoising_steps", 0, "must be a positive integer"));
        }
        if !(self.entropy_bound.is_finite() && self.entropy_bound > 0.0) {
            return Err(bad("entropy_bound", self.entropy_bound, "must be a float > 0"));
        }
        if !(self.t_min.is_finite() && self.t_min >= 0.0) {
            return Err(bad("t_min", self.t_min, "must be >= 0.0"));
        }
        if !(self.t_max.is_finite() && self.t_max >= 0.0) {
            return Err(bad("t_max", self.t_max, "must be >= 0.0"));
        }
        if self.t_max <= self.t_min {
            return Err(bad("t_max", self.t_max, "must be > t_min"));
        }
        if !(self.confidence_threshold.is_finite() && self.confidence_threshold > 0.0) {
            return Err(bad("confidence_threshold", self.confidence_threshold, "must be a float > 0"));
        }
        Ok(())
    }

    /// Temperature of the step with `remaining` steps left (`remaining` = S at the first step).
    pub fn temperature(&self, remaining: u32) -> f32 {
        crate::schedule::temperature(self.t_min, self.t_max, remaining, self.max_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_defaults_and_valid() {
        let p = SamplerParams::default();
        assert_eq!((p.max_new_tokens, p.max_steps, p.stability_threshold), (256, 48, 1));
        assert_eq!((p.entropy_bound, p.t_min, p.t_max, p.confidence_threshold), (0.1, 0.4, 0.8, 0.005));
        p.validate().unwrap();
    }

    #[test]
    fn validation_rejects_what_the_reference_rejects() {
        let ok = SamplerParams::default();
        let cases: Vec<(SamplerParams, &str)> = vec![
            (SamplerParams { t_max: 0.4, ..ok.clone() }, "t_max"),
            (SamplerParams { t_max: 0.3, ..ok.clone() }, "t_max"),
            (SamplerParams { t_min: -0.1, ..ok.clone() }, "t_min"),
            (SamplerParams { entropy_bound: 0.0, ..ok.clone() }, "entropy_bound"),
            (SamplerParams { confidence_threshold: 0.0, ..ok.clone() }, "confidence_threshold"),
            (SamplerParams { max_steps: 0, ..ok.clone() }, "max_denoising_steps"),
            (SamplerParams { max_new_tokens: 0, ..ok.clone() }, "max_new_tokens"),
            (SamplerParams { entropy_bound: f64::NAN, ..ok.clone() }, "entropy_bound"),
        ];
        for (p, name) in cases {
            match p.validate() {
                Err(SamplerError::InvalidParam { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{p:?}: expected InvalidParam({name}), got {other:?}"),
            }
        }
        // Stability 0 and t_min 0 are allowed.
        SamplerParams { stability_threshold: 0, t_min: 0.0, ..ok }.validate().unwrap();
    }

    #[test]
    fn command_line_beats_gguf_beats_defaults() {
        let cli = SamplerOverrides { t_max: Some(0.9), ..Default::default() };
        let gguf = SamplerOverrides {
            t_max: Some(0.7),
            max_steps: Some(20),
            ..Default::default()
        };
        let p = SamplerParams::resolve(&cli, &gguf).unwrap();
        assert_eq!(p.t_max, 0.9);
        assert_eq!(p.max_steps, 20);
        assert_eq!(p.t_min, 0.4);
        let bad = SamplerOverrides { t_min: Some(1.0), ..Default::default() };
        assert!(SamplerParams::resolve(&bad, &gguf).is_err());
    }
}
