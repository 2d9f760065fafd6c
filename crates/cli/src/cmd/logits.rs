//! `dgemma logits`: one denoiser forward (prompt encoded into the cache, then the canvas),
//! written as F32 `logits [canvas_len, vocab]` to a safetensors file.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use dgemma_model::{KvCache, Model, Scratch, Trace};
use dgemma_tokenizer::GemmaTokenizer;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use super::run::{open_backend, open_model_file};

#[derive(clap::Args)]
pub struct Args {
    /// Model file (GGUF, arch diffusion-gemma).
    #[arg(short = 'm', long)]
    pub model: PathBuf,
    /// Prompt token ids, comma-separated (BOS is not added).
    #[arg(long, value_delimiter = ',', conflicts_with = "prompt")]
    pub prompt_ids: Option<Vec<u32>>,
    /// Prompt text (tokenized with BOS and special tokens).
    #[arg(short = 'p', long)]
    pub prompt: Option<String>,
    /// Canvas token ids, comma-separated (1 to canvas_length of them).
    #[arg(long, value_delimiter = ',', conflicts_with = "canvas_text")]
    pub canvas_ids: Option<Vec<u32>>,
    /// Canvas text (tokenized without BOS).
    #[arg(long)]
    pub canvas_text: Option<String>,
    /// Self-conditioning input: a safetensors file whose `logits` tensor (or only tensor) is the
    /// previous step's temperature-scaled logits `[canvas_len, vocab]`, F32.
    #[arg(long)]
    pub self_cond: Option<PathBuf>,
    /// Output safetensors file.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Also write the decoder's hidden states: `hidden.0` (layer-0 input) … `hidden.L`.
    #[arg(long)]
    pub dump_hidden: bool,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Compute backend.
    #[arg(long, default_value = "cpu")]
    pub backend: String,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The self-conditioning tensor of `path`, checked to be F32 `[rows, vocab]`.
fn read_self_cond(path: &std::path::Path, rows: usize, vocab: usize) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let names = st.names();
    let t = match st.tensor("logits") {
        Ok(t) => t,
        Err(_) if names.len() == 1 => st.tensor(names[0])?,
        Err(_) => bail!("{}: no `logits` tensor (found {})", path.display(), names.len()),
    };
    if t.dtype() != Dtype::F32 || t.shape() != [rows, vocab] {
        bail!("{}: self-conditioning logits are {:?} {:?}, expected F32 [{rows}, {vocab}]", path.display(), t.dtype(), t.shape());
    }
    Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

pub fn run(args: Args) -> Result<()> {
    let backend = open_backend(&args.backend, args.threads)?;
    let file = open_model_file(&args.model)?;
    let needs_tok = args.prompt.is_some() || args.canvas_text.is_some();
    let tok = if needs_tok { Some(GemmaTokenizer::from_gguf(&file).context("tokenizer")?) } else { None };
    let prompt = match (&args.prompt_ids, &args.prompt, &tok) {
        (Some(ids), _, _) => ids.clone(),
        (None, Some(p), Some(t)) => t.encode(p, true, true)?,
        _ => bail!("no prompt: give --prompt-ids or -p"),
    };
    let canvas = match (&args.canvas_ids, &args.canvas_text, &tok) {
        (Some(ids), _, _) => ids.clone(),
        (None, Some(c), Some(t)) => t.encode(c, false, true)?,
        _ => bail!("no canvas: give --canvas-ids or --canvas-text"),
    };
    let model = Model::load(&file, &backend)?;
    let cfg = &model.cfg;
    let (c, v) = (canvas.len(), cfg.vocab);
    if c == 0 || c > cfg.canvas {
        bail!("canvas has {c} tokens, expected 1 to {}", cfg.canvas);
    }
    let z = match &args.self_cond {
        Some(p) => Some(read_self_cond(p, c, v)?),
        None => None,
    };
    let mut cache = KvCache::new(&backend, cfg, prompt.len() + c);
    let mut scratch = Scratch::new(&backend, cfg, 512, true);
    model.encode(&prompt, &mut cache, &mut scratch, None)?;
    let mut logits = vec![0f32; c * v];
    let mut trace = Trace::default();
    model.denoise(&canvas, &cache, z.as_deref(), &mut scratch, &mut logits, args.dump_hidden.then_some(&mut trace))?;

    let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = vec![("logits".into(), vec![c, v], f32_bytes(&logits))];
    for (l, h) in trace.hidden.iter().enumerate() {
        blobs.push((format!("hidden.{l}"), vec![c, cfg.hidden], f32_bytes(h)));
    }
    let views: Vec<(String, TensorView<'_>)> = blobs
        .iter()
        .map(|(n, shape, b)| Ok((n.clone(), TensorView::new(Dtype::F32, shape.clone(), b)?)))
        .collect::<Result<_>>()?;
    let meta: HashMap<String, String> = [
        ("prompt_ids".to_string(), format!("{prompt:?}")),
        ("canvas_ids".to_string(), format!("{canvas:?}")),
        ("canvas_positions".to_string(), format!("{}..{}", prompt.len(), prompt.len() + c)),
    ]
    .into();
    let bytes = safetensors::serialize(views, Some(meta))?;
    std::fs::write(&args.output, bytes).with_context(|| format!("cannot write {}", args.output.display()))?;
    Ok(())
}
