//! `dgemma quantize IN.gguf OUT.gguf TYPE`: what llama-quantize does to a DiffusionGemma GGUF
//! (default options, no imatrix): every KV copied byte for byte, then `general.quantization_version`
//! and `general.file_type` re-appended; tensors in llama.cpp's weight order; per-tensor types from
//! the same [`Mixture`] the converter uses.

use std::path::PathBuf;
use std::time::Instant;

use dgemma_gguf::arch::{arch_key, keys, ARCH};
use dgemma_quant::GgmlType;

use crate::convert_hf::Summary;
use crate::error::{ConvertError, Result};
use crate::gguf_read::GgufInput;
use crate::gguf_write::{StreamWriter, TensorInfo};
use crate::metadata::set_quantized_file_type;
use crate::mixture::Mixture;
use crate::names::sort_llama_quantize;
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
    let input = GgufInput::open(&opts.input)?;
    let arch = input.string(keys::GENERAL_ARCHITECTURE).unwrap_or_default();
    if arch != ARCH {
        return Err(ConvertError::WrongArchitecture { file: opts.input.display().to_string(), found: arch, expected: ARCH.into() });
    }
    let need = |k: &str| {
        input.u32(&arch_key(k)).ok_or_else(|| ConvertError::MissingKey { file: opts.input.display().to_string(), key: arch_key(k) })
    };
    let n_layer = need(keys::BLOCK_COUNT)? as usize;
    let n_expert = need(keys::EXPERT_COUNT)? as usize;
    let mut named: Vec<(&str, usize)> = input.tensors.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    sort_llama_quantize(&mut named, |x| x.0);
    let order: Vec<usize> = named.into_iter().map(|x| x.1).collect();
    let mut mix = Mixture::new(opts.out_type, order.iter().map(|&i| input.tensors[i].name.as_str()), n_layer, n_expert);
    let mut infos = Vec::with_capacity(order.len());
    for &i in &order {
        let t = &input.tensors[i];
        let ty = mix.pick(&t.name, &t.ne, t.ty);
        if ty != t.ty && !is_float(t.ty) && !opts.allow_requantize {
            return Err(ConvertError::Requantize { name: t.name.clone(), from: t.ty.to_string(), to: ty.to_string() });
        }
        infos.push(TensorInfo { name: t.name.clone(), ne: t.ne.clone(), ty });
    }
    let mut meta = input.metadata.clone();
    set_quantized_file_type(&mut meta, opts.out_type);
    let total: u64 = infos.iter().map(|t| t.nbytes().unwrap_or(0)).sum();
    let n_params: u64 = infos.iter().map(|t| t.ne.iter().product::<u64>()).sum();
    let mut w = StreamWriter::create(&opts.output, &meta, infos.clone(), opts.force)?;
    let progress = Progress::new(total, opts.progress);
    for (k, (&i, out)) in order.iter().zip(&infos).enumerate() {
        let t = &input.tensors[i];
        progress.tensor(k, infos.len(), &t.name);
        let job = TensorJob {
            name: &t.name,
            n_per_row: t.ne[0] as usize,
            n_rows: (t.ne.iter().product::<u64>() / t.ne[0].max(1)) as usize,
            input: input.data(i),
            kind: InputKind::Ggml(t.ty),
            out: out.ty,
            check_finite: false,
        };
        write_tensor(&mut w, &job, |b| progress.add(b))?;
        input.release(i);
    }
    progress.finish();
    let bytes = w.finish()?;
    Ok(Summary { bytes, n_tensors: infos.len(), n_params, seconds: start.elapsed().as_secs_f64(), notes: vec![] })
}
