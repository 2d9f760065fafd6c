//! DiffusionGemma on a [`dgemma_backend::Backend`]: configuration from GGUF metadata, weights
//! loaded by tensor role, the K/V cache, and the encoder / denoiser graph (model.rs is the
//! spine: [`Model::encode`] and [`Model::denoise`], each one loop over the layers).

mod config;
mod diffusion_gemma;
mod error;
mod kv_cache;
mod meta;
mod routing;
mod scratch;
mod session;
mod weights;

pub use config::{Config, LayerSpec, REFERENCE_SOFTCAP};
pub use diffusion_gemma::{Model, Pass, Trace};
pub use error::{ModelError, Result};
pub use kv_cache::KvCache;
pub use routing::route_top_k;
pub use scratch::Scratch;
pub use session::{PassTimes, Session};
pub use weights::{LayerWeights, Weights};
