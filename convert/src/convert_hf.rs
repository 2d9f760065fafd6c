//! `dgemma convert`: HF directory -> GGUF, streaming.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::{read_json, ModelParams};
use crate::error::{ConvertError, Result};
use crate::metadata::{build, general_name, size_label, MetaInputs};
use crate::output::{tensor_bytes, Output};
use crate::plan::{plan, Feed};
use crate::progress::Progress;
use crate::source::Checkpoint;
use crate::target::OutType;
use crate::tensor_stream::{write_tensor, InputKind, TensorJob};
use crate::vocab::Vocab;

/// Options of one conversion.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// HF checkpoint directory (config.json, safetensors, tokenizer files).
    pub input: PathBuf,
    pub output: PathBuf,
    pub out_type: OutType,
    /// Overwrite an existing output.
    pub force: bool,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
}

/// What a finished run did.
#[derive(Clone, Debug)]
pub struct Summary {
    pub bytes: u64,
    pub n_tensors: usize,
    pub n_params: u64,
    pub seconds: f64,
    /// Things the user should know (dropped towers, missing tokenizer).
    pub notes: Vec<String>,
}

impl Summary {
    /// Bits per weight of the whole file.
    pub fn bpw(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.n_params.max(1) as f64
    }
}

fn dir_name(dir: &Path) -> String {
    let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    canon.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "model".into())
}

/// Converts `opts.input` to `opts.output`.
pub fn convert(opts: &ConvertOptions) -> Result<Summary> {
    let start = Instant::now();
    if opts.output.exists() && !opts.force {
        return Err(ConvertError::OutputExists(opts.output.clone()));
    }
    let cfg_path = opts.input.join("config.json");
    let config = read_json(&cfg_path)?;
    let params = ModelParams::from_json(&config, &cfg_path.display().to_string())?;
    let gen_path = opts.input.join("generation_config.json");
    let generation = if gen_path.exists() { Some(read_json(&gen_path)?) } else { None };
    let mut notes = Vec::new();
    let vocab = if opts.input.join("tokenizer.json").exists() {
        Some(Vocab::from_dir(&opts.input, &config)?)
    } else {
        notes.push("no tokenizer.json: the file has no tokenizer metadata and llama.cpp cannot load it".into());
        None
    };
    let n_vocab = vocab.as_ref().map_or(params.vocab_size, |v| v.n_tokens);
    let ckpt = Checkpoint::open(&opts.input)?;
    let plan = plan(&params, &ckpt, n_vocab, opts.out_type)?;
    if plan.dropped_tower > 0 {
        notes.push(format!("skipped {} vision/audio tower tensors (text model only)", plan.dropped_tower));
    }
    let name = general_name(&dir_name(&opts.input));
    let label = size_label(&plan.shapes, params.n_expert);
    let inputs = MetaInputs {
        general_name: &name,
        size_label: &label,
        generation: generation.as_ref(),
        tokenizer: vocab.as_ref().map(|v| &v.metadata),
    };
    let meta = build(&params, &inputs, opts.out_type);
    let mut total = 0;
    for t in &plan.tensors {
        total += tensor_bytes(&t.name, &t.ne, t.ty)?;
    }
    let mut w = Output::create(&opts.output, opts.force)?;
    w.metadata(&meta)?;
    for t in &plan.tensors {
        w.tensor(&t.name, &t.ne, t.ty)?;
    }
    let progress = Progress::new(total, opts.progress);
    let n = plan.tensors.len();
    for (i, t) in plan.tensors.iter().enumerate() {
        progress.tensor(i, n, &t.name);
        let generated: Vec<u8>;
        let (input, kind, check) = match &t.feed {
            Feed::Checkpoint(si) => {
                let src = &ckpt.tensors[*si];
                (ckpt.bytes(src)?, InputKind::Source(src.dtype), true)
            }
            Feed::Values(v) => {
                generated = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                (&generated[..], InputKind::Ggml(dgemma_quant::GgmlType::F32), false)
            }
        };
        let n_per_row = t.ne[0] as usize;
        let job = TensorJob {
            name: &t.name,
            n_per_row,
            n_rows: (t.ne.iter().product::<u64>() / t.ne[0].max(1)) as usize,
            input,
            kind,
            out: t.ty,
            check_finite: check,
        };
        write_tensor(&mut w, &job, |b| progress.add(b))?;
        if let Feed::Checkpoint(si) = &t.feed {
            ckpt.release(&ckpt.tensors[*si]);
        }
    }
    progress.finish();
    let bytes = w.finish()?;
    Ok(Summary {
        bytes,
        n_tensors: n,
        n_params: plan.shapes.iter().map(|t| t.ne.iter().product::<u64>()).sum(),
        seconds: start.elapsed().as_secs_f64(),
        notes,
    })
}
