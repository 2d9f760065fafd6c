//! `dgemma quantize IN.gguf OUT.gguf TYPE`: what llama-quantize does to a DiffusionGemma GGUF
//! (default options, no imatrix): every KV copied byte for byte, then `general.quantization_version`
//! and `general.file_type` re-appended; tensors in llama.cpp's weight order; per-tensor types from
//! the same [`Mixture`] the converter uses.

use std::path::PathBuf;
use std::time::Instant;

use dgemma_gguf::arch::{arch_key, keys, ARCH};
use dgemma_gguf::{GgufFile, TensorView};
use dgemma_quant::GgmlType;

use crate::convert_hf::Summary;
use crate::error::{ConvertError, Result};
use crate::meta_value::Metadata;
use crate::metadata::set_quantized_file_type;
use crate::mixture::Mixture;
use crate::names::sort_llama_quantize;
use crate::output::{tensor_bytes, Output};
use crate::progress::Progress;
use crate::target::OutType;
use crate::tensor_stream::{write_tensor, InputKind, TensorJob};

/// Options of one requantization.
#[derive(Clone, Debug)]
pub struct QuantizeOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub out_type: OutType,
    /// Allow re-quantizing tensors that are already block-quantized.
    pub allow_requantize: bool,
    pub force: bool,
    pub progress: bool,
}

fn is_float(t: GgmlType) -> bool {
    matches!(t, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

/// Requantizes `opts.input` into `opts.output`.
pub fn quantize_gguf(opts: &QuantizeOptions) -> Result<Summary> {
    let start = Instant::now();
    if opts.output.exists() && !opts.force {
        return Err(ConvertError::OutputExists(opts.output.clone()));
    }
    let input = GgufFile::open(&opts.input).map_err(|e| ConvertError::BadGguf { path: opts.input.clone(), msg: e.to_string() })?;
    let arch = input.get_str(keys::GENERAL_ARCHITECTURE).unwrap_or_default().to_string();
    if arch != ARCH {
        return Err(ConvertError::WrongArchitecture { file: opts.input.display().to_string(), found: arch, expected: ARCH.into() });
    }
    let need = |k: &str| {
        let key = arch_key(k);
        let n = input.get_uint(&key).ok().and_then(|n| usize::try_from(n).ok());
        n.ok_or_else(|| ConvertError::MissingKey { file: opts.input.display().to_string(), key })
    };
    let n_layer = need(keys::BLOCK_COUNT)?;
    let n_expert = need(keys::EXPERT_COUNT)?;
    let mut views: Vec<TensorView> = input.tensor_views().collect();
    sort_llama_quantize(&mut views, |v| v.info.name.as_str());
    let mut mix = Mixture::new(opts.out_type, views.iter().map(|v| v.info.name.as_str()), n_layer, n_expert);
    let mut types = Vec::with_capacity(views.len());
    let (mut total, mut n_params) = (0, 0);
    for v in &views {
        let t = v.info;
        let ty = mix.pick(&t.name, &t.dims, t.ggml_type);
        if ty != t.ggml_type && !is_float(t.ggml_type) && !opts.allow_requantize {
            return Err(ConvertError::Requantize { name: t.name.clone(), from: t.ggml_type.to_string(), to: ty.to_string() });
        }
        total += tensor_bytes(&t.name, &t.dims, ty)?;
        n_params += t.n_elements();
        types.push(ty);
    }
    let mut w = Output::create(&opts.output, opts.force)?;
    // llama-quantize copies every KV, then re-sets (removes and re-appends) these two.
    let mut tail = Metadata::new();
    set_quantized_file_type(&mut tail, opts.out_type);
    for (k, v) in input.metadata().filter(|(k, _)| tail.get(k).is_none()) {
        w.copy_value(k, v)?;
    }
    w.metadata(&tail)?;
    for (v, &ty) in views.iter().zip(&types) {
        w.tensor(&v.info.name, &v.info.dims, ty)?;
    }
    let progress = Progress::new(total, opts.progress);
    for (k, (v, &ty)) in views.iter().zip(&types).enumerate() {
        let t = v.info;
        progress.tensor(k, views.len(), &t.name);
        let job = TensorJob {
            name: &t.name,
            n_per_row: t.dims[0] as usize,
            n_rows: (t.n_elements() / t.dims[0].max(1)) as usize,
            input: v.data,
            kind: InputKind::Ggml(t.ggml_type),
            out: ty,
            check_finite: false,
        };
        write_tensor(&mut w, &job, |b| progress.add(b))?;
        input.release_tensor(t);
    }
    progress.finish();
    let bytes = w.finish()?;
    Ok(Summary { bytes, n_tensors: views.len(), n_params, seconds: start.elapsed().as_secs_f64(), notes: vec![] })
}
