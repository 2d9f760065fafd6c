//! `dgemma convert --estimate CONFIG.json`: exact output sizes per type from the configuration
//! alone, through the same tensor list ([`expected_tensors`]) and type decisions
//! ([`file_types`]) the converter uses. The header (metadata + tensor table) is either computed
//! from the metadata that would be written (tokenizer.json beside the config adds the tokenizer)
//! or given (the published 26B files' data starts at 15,824,736, ../shared/spec/gguf.md §2.9).

use std::path::Path;

use dgemma_gguf::DEFAULT_ALIGNMENT;

use crate::config::{read_json, ModelParams};
use crate::error::Result;
use crate::metadata::{build, general_name, size_label, MetaInputs};
use crate::names::expected_tensors;
use crate::output::{header_size, tensor_bytes};
use crate::plan::file_types;
use crate::target::OutType;
use crate::vocab::Vocab;

/// How the header size is obtained.
#[derive(Clone, Debug)]
pub enum HeaderSize {
    /// Offset of the data section, taken as given for every type.
    Given(u64),
    /// Computed from the metadata records the converter would write.
    Computed { tokenizer: Option<Vocab>, generation: Option<serde_json::Value>, name: String },
}

/// One line of the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeEstimate {
    pub out: OutType,
    pub header_bytes: u64,
    pub bytes: u64,
    pub n_params: u64,
}

impl SizeEstimate {
    /// Bits per weight of the whole file.
    pub fn bpw(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.n_params as f64
    }
}

/// Sizes of every supported output type; fails like the converter would on a tensor or record
/// it cannot write.
pub fn estimate(p: &ModelParams, header: &HeaderSize) -> Result<Vec<SizeEstimate>> {
    let n_vocab = match header {
        HeaderSize::Computed { tokenizer: Some(v), .. } => v.n_tokens,
        _ => p.vocab_size,
    };
    let shapes = expected_tensors(p, n_vocab);
    let n_params: u64 = shapes.iter().map(|t| t.ne.iter().product::<u64>()).sum();
    let label = size_label(&shapes, p.n_expert);
    OutType::ALL
        .iter()
        .map(|&out| {
            // Tensor order changes nothing in size except through the attn_v counter, which
            // runs in layer order either way.
            let types = file_types(out, &shapes, p);
            let infos = || shapes.iter().zip(&types).map(|(t, &ty)| (t.name.as_str(), &t.ne[..], ty));
            let header_bytes = match header {
                HeaderSize::Given(n) => *n,
                HeaderSize::Computed { tokenizer, generation, name } => {
                    let inputs = MetaInputs {
                        general_name: name,
                        size_label: &label,
                        generation: generation.as_ref(),
                        tokenizer: tokenizer.as_ref().map(|v| &v.metadata),
                    };
                    header_size(&build(p, &inputs, out), infos())?
                }
            };
            let mut data = 0;
            for (name, ne, ty) in infos() {
                data += tensor_bytes(name, ne, ty)?.next_multiple_of(DEFAULT_ALIGNMENT);
            }
            Ok(SizeEstimate { out, header_bytes, bytes: header_bytes + data, n_params })
        })
        .collect()
}

/// Reads `config` and, beside it, tokenizer.json / tokenizer_config.json / generation_config.json
/// when present; `given_header` overrides the computed header size.
pub fn estimate_from_config(config: &Path, given_header: Option<u64>) -> Result<(ModelParams, Vec<SizeEstimate>, bool)> {
    let cfg = read_json(config)?;
    let p = ModelParams::from_json(&cfg, &config.display().to_string())?;
    let dir = config.parent().unwrap_or(Path::new("."));
    let header = match given_header {
        Some(n) => HeaderSize::Given(n),
        None => {
            let tokenizer = if dir.join("tokenizer.json").exists() { Some(Vocab::from_dir(dir, &cfg)?) } else { None };
            let gen = dir.join("generation_config.json");
            let generation = if gen.exists() { Some(read_json(&gen)?) } else { None };
            let name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string())).unwrap_or_default();
            HeaderSize::Computed { tokenizer, generation, name: general_name(&name) }
        }
    };
    let with_tokenizer = matches!(header, HeaderSize::Computed { tokenizer: Some(_), .. });
    let est = estimate(&p, &header)?;
    Ok((p, est, with_tokenizer))
}
