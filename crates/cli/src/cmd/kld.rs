//! `dgemma kld --base BASE.gguf -m QUANT.gguf -f TEXT`: how far a quantized model's
//! distributions are from the base model's on the same inputs (docs/quality.md):
//! (a) encoder next-token logits over chunks of the text, (b) denoiser logits on canvases cut
//! from the text with a fraction of positions replaced by random tokens, (c) one sampled block
//! per canvas with the same random stream. `--save-base` stores the base side once
//! (top-K log-probs per position) for `--base-logits` runs against many quantizations.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use dgemma_backend_cpu::CpuBackend;
use dgemma_model::Model;
use dgemma_quality::base_file::{BaseFile, BaseHeader, SectionInfo};
use dgemma_quality::logprobs::{compact_row, compare_compact, compare_full, CompactRow};
use dgemma_quality::probe::{canvas_probe, encoder_chunks, fingerprint, noise_canvas, CanvasProbe, NoisedCanvas};
use dgemma_quality::runner::{BlockOutcome, Runner};
use dgemma_quality::summary::{SectionAccumulator, SectionReport};
use dgemma_sampler::{Mt19937, SamplerParams};
use dgemma_tokenizer::GemmaTokenizer;
use serde::Serialize;

use super::run::{open_backend, open_model_file};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Base model (BF16/F32 GGUF) run live.
    #[arg(long, required_unless_present = "base_logits")]
    pub base: Option<PathBuf>,
    /// Quantized model to compare.
    #[arg(short = 'm', long, required_unless_present = "save_base")]
    pub model: Option<PathBuf>,
    /// Text file the inputs are cut from.
    #[arg(short = 'f', long)]
    pub file: PathBuf,
    /// Text chunks to use (each gives an encoder chunk, a canvas per noise ratio and a block).
    #[arg(long, default_value_t = 4)]
    pub chunks: usize,
    /// Tokens per chunk (BOS included), capped at the model's context.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 128)]
    pub ctx: usize,
    /// Fractions of canvas positions replaced by random tokens.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,0.9")]
    pub noise: Vec<f64>,
    /// Seed of the canvas noise and of the sampler's random stream.
    #[arg(short = 's', long, default_value_t = 42)]
    pub seed: u32,
    /// Maximum denoising steps per block in the sampler comparison.
    #[arg(long)]
    pub steps: Option<u32>,
    /// Skip the sampler-level comparison.
    #[arg(long)]
    pub no_sampler: bool,
    /// Write the base model's distributions (top-K log-probs) to this file.
    #[arg(long, requires = "base", conflicts_with = "base_logits")]
    pub save_base: Option<PathBuf>,
    /// Compare against a file written by --save-base instead of running the base model.
    #[arg(long)]
    pub base_logits: Option<PathBuf>,
    /// Tokens kept per position by --save-base.
    #[arg(long, default_value_t = 64)]
    pub top_k: usize,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Compute backend.
    #[arg(long, default_value = "cpu")]
    pub backend: String,
}

/// Sampler-level comparison over all canvases.
#[derive(Debug, Serialize)]
struct SamplerReport {
    canvases: usize,
    steps_base: f64,
    steps_quant: f64,
    accepted_per_step_base: f64,
    accepted_per_step_quant: f64,
    /// Canvases where both models stopped after the same number of steps.
    same_steps_pct: f64,
    /// Final-canvas positions equal to the base's, percent.
    canvas_agreement_pct: f64,
    identical_canvases: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    base: String,
    model: String,
    /// Set when the base came from a file: KL is over its top-K plus one rest bucket.
    base_top_k: Option<usize>,
    sections: Vec<SectionReport>,
    sampler: Option<SamplerReport>,
}

/// The inputs of a run, made from the text and the settings alone.
struct Probes {
    chunks: Vec<Vec<u32>>,
    canvases: Vec<(CanvasProbe, Vec<NoisedCanvas>)>,
}

fn make_probes(tokens: &[u32], bos: Option<u32>, args: &Args, ctx: usize, canvas: usize, vocab: usize) -> Result<Probes> {
    let chunks = encoder_chunks(tokens, bos, ctx, args.chunks);
    if chunks.is_empty() {
        bail!("{}: the text has fewer than 2 tokens", args.file.display());
    }
    let mut rng = Mt19937::new(args.seed);
    let canvases: Vec<_> = chunks
        .iter()
        .filter_map(|c| canvas_probe(c, canvas))
        .map(|p| {
            let n = args.noise.iter().map(|&r| noise_canvas(&p.original, r, vocab as u32, &mut rng)).collect();
            (p, n)
        })
        .collect();
    if canvases.is_empty() {
        bail!("no chunk is longer than the canvas ({canvas} tokens): use a longer text or a larger --ctx-size");
    }
    Ok(Probes { chunks, canvases })
}

/// Where the base distributions come from, and where quantized ones go.
struct Sides<'m, 'a> {
    base: Option<Runner<'m, 'a, CpuBackend>>,
    file: Option<BaseFile>,
    quant: Option<Runner<'m, 'a, CpuBackend>>,
    /// Rows being collected for --save-base.
    save: Option<Vec<Vec<CompactRow>>>,
    top_k: usize,
}

impl Sides<'_, '_> {
    /// Compare one unit of rows (`[n, V]` logits from each side) of section `sec`.
    /// `targets[i]` is row i's reference token (`None`: KL and top-1 only).
    fn unit(
        &mut self,
        sec: usize,
        offset: &mut usize,
        acc: &mut SectionAccumulator,
        targets: &[Option<u32>],
        run: impl Fn(&Runner<'_, '_, CpuBackend>) -> dgemma_quality::Result<Vec<f32>>,
    ) -> Result<()> {
        let base = self.base.as_ref().map(&run).transpose()?;
        let quant = self.quant.as_ref().map(&run).transpose()?;
        let v = match (&base, &quant) {
            (Some(b), _) => b.len() / targets.len(),
            (None, Some(q)) => q.len() / targets.len(),
            _ => unreachable!("a run has a base or a model"),
        };
        for (i, &t) in targets.iter().enumerate() {
            if let (Some(save), Some(b)) = (self.save.as_mut(), &base) {
                save[sec].push(compact_row(&b[i * v..(i + 1) * v], self.top_k, t)?);
            }
            if let Some(q) = &quant {
                let m = match (&base, &self.file) {
                    (Some(b), _) => compare_full(&b[i * v..(i + 1) * v], &q[i * v..(i + 1) * v], t)?,
                    (None, Some(f)) => compare_compact(&f.rows[sec][*offset + i], &q[i * v..(i + 1) * v], t)?,
                    _ => unreachable!(),
                };
                acc.add(&m);
            }
        }
        *offset += targets.len();
        Ok(())
    }
}

fn section_names(noise: &[f64]) -> Vec<String> {
    std::iter::once("encoder".to_string()).chain(noise.iter().map(|r| format!("denoise r={r:.2}"))).collect()
}

pub fn run(args: Args) -> Result<()> {
    if args.noise.iter().any(|r| !(0.0..=1.0).contains(r)) {
        bail!("--noise ratios must be in 0..=1, got {:?}", args.noise);
    }
    if args.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let backend = open_backend(&args.backend, args.threads)?;
    let base_gguf = args.base.as_deref().map(open_model_file).transpose()?;
    let quant_gguf = args.model.as_deref().map(open_model_file).transpose()?;
    let base_model = base_gguf.as_ref().map(|f| Model::load(f, &backend)).transpose().context("base model")?;
    let quant_model = quant_gguf.as_ref().map(|f| Model::load(f, &backend)).transpose().context("quantized model")?;
    let cfg = base_model.as_ref().or(quant_model.as_ref()).map(|m| m.cfg.clone()).expect("clap requires a model");
    if let (Some(b), Some(q)) = (&base_model, &quant_model) {
        if (b.cfg.vocab, b.cfg.canvas) != (q.cfg.vocab, q.cfg.canvas) {
            bail!("base and model differ in vocabulary/canvas: {}/{} vs {}/{}", b.cfg.vocab, b.cfg.canvas, q.cfg.vocab, q.cfg.canvas);
        }
    }
    let tok = GemmaTokenizer::from_gguf(base_gguf.as_ref().or(quant_gguf.as_ref()).expect("a model")).context("tokenizer")?;
    let tokens = tok.encode(&text, false, true)?;
    let bos = tok.bos_id().filter(|_| tok.add_bos());
    let ctx = args.ctx.min(cfg.context_length);
    let probes = make_probes(&tokens, bos, &args, ctx, cfg.canvas, cfg.vocab)?;
    let params = SamplerParams { max_steps: args.steps.unwrap_or(SamplerParams::default().max_steps), ..SamplerParams::default() };
    params.validate()?;
    let settings = serde_json::json!({
        "tokens_fnv1a": format!("{:016x}", fingerprint(&tokens)),
        "chunks": probes.chunks.len(), "ctx": ctx, "noise": args.noise, "seed": args.seed,
        "max_steps": params.max_steps, "canvas": cfg.canvas, "vocab": cfg.vocab, "sampler": !args.no_sampler,
    });
    let names = section_names(&args.noise);

    let file = match &args.base_logits {
        Some(p) => {
            let f = BaseFile::read(p)?;
            if f.header.settings != settings {
                bail!("{}: made with settings {} but this run has {}", p.display(), f.header.settings, settings);
            }
            // Row counts follow from the settings; checked so a hand-edited file cannot index past its rows.
            let enc_rows: usize = probes.chunks.iter().map(|c| c.len() - 1).sum();
            let canvas_rows = probes.canvases.iter().map(|(c, _)| c.original.len()).sum::<usize>();
            let want: Vec<(&String, usize)> = names.iter().enumerate().map(|(i, n)| (n, if i == 0 { enc_rows } else { canvas_rows })).collect();
            if f.header.sections.iter().map(|s| (&s.name, s.rows)).ne(want.iter().copied()) {
                bail!("{}: sections {:?}, expected {want:?}", p.display(), f.header.sections);
            }
            Some(f)
        }
        None => None,
    };
    let batch = ctx.max(cfg.canvas);
    let mut sides = Sides {
        base: base_model.as_ref().map(|m| Runner::new(m, batch)),
        file,
        quant: quant_model.as_ref().map(|m| Runner::new(m, batch)),
        save: args.save_base.as_ref().map(|_| vec![Vec::new(); names.len()]),
        top_k: args.top_k,
    };

    // (a) encoder next-token logits: row i predicts token i + 1 (the last row has no target).
    let mut sections = Vec::new();
    let mut acc = SectionAccumulator::default();
    let mut offset = 0;
    for chunk in &probes.chunks {
        let targets: Vec<Option<u32>> = chunk[1..].iter().map(|&t| Some(t)).collect();
        let n = targets.len();
        sides.unit(0, &mut offset, &mut acc, &targets, |r| Ok(r.encoder_logits(chunk)?[..n * cfg.vocab].to_vec()))?;
    }
    sections.push(acc.finish(&names[0]));
    // (b) denoiser logits on noised canvases: the reference is the text's token where noised.
    for (k, name) in names.iter().enumerate().skip(1) {
        let (mut acc, mut offset) = (SectionAccumulator::default(), 0);
        for (p, noised) in &probes.canvases {
            let nc = &noised[k - 1];
            let targets: Vec<Option<u32>> = p.original.iter().zip(&nc.noised).map(|(&t, &n)| n.then_some(t)).collect();
            sides.unit(k, &mut offset, &mut acc, &targets, |r| Ok(r.denoise_logits(&p.prompt, &[&nc.tokens])?.remove(0)))?;
        }
        sections.push(acc.finish(name));
    }
    // (c) one sampled block per canvas prompt, same seed per canvas for both models.
    let run_blocks = |r: &Runner<'_, '_, CpuBackend>| -> Result<Vec<BlockOutcome>> {
        probes.canvases.iter().enumerate().map(|(i, (p, _))| Ok(r.generate_block(&p.prompt, &params, args.seed.wrapping_add(i as u32))?)).collect()
    };
    let base_blocks = match (&sides.base, &sides.file) {
        _ if args.no_sampler => None,
        (Some(r), _) => Some(run_blocks(r)?),
        (None, Some(f)) => Some(serde_json::from_value(f.header.extra["sampler"].clone()).context("base-logits file: sampler results")?),
        _ => None,
    };
    let quant_blocks = match &sides.quant {
        Some(r) if !args.no_sampler => Some(run_blocks(r)?),
        _ => None,
    };

    if let (Some(path), Some(rows)) = (&args.save_base, sides.save.take()) {
        let header = BaseHeader {
            version: 1,
            vocab: cfg.vocab,
            top_k: args.top_k,
            settings: settings.clone(),
            sections: names.iter().zip(&rows).map(|(n, r)| SectionInfo { name: n.clone(), rows: r.len() }).collect(),
            extra: serde_json::json!({ "sampler": base_blocks }),
        };
        let f = BaseFile { header, rows };
        f.write(path)?;
        eprintln!("saved {} positions (top-{} log-probs) to {}", f.rows.iter().map(Vec::len).sum::<usize>(), args.top_k, path.display());
    }
    let Some(model_path) = &args.model else { return Ok(()) };
    let report = Report {
        base: args.base.as_ref().or(args.base_logits.as_ref()).map(|p| p.display().to_string()).unwrap_or_default(),
        model: model_path.display().to_string(),
        base_top_k: sides.file.as_ref().map(|f| f.header.top_k),
        sections,
        sampler: base_blocks.zip(quant_blocks).map(|(b, q)| sampler_report(&b, &q)),
    };
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_table(&report),
    }
    Ok(())
}

fn sampler_report(base: &[BlockOutcome], quant: &[BlockOutcome]) -> SamplerReport {
    let n = base.len().min(quant.len());
    let mean = |it: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = it.collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let per_step = |b: &[BlockOutcome]| {
        let (acc, steps) = b.iter().fold((0usize, 0usize), |(a, s), o| (a + o.accepted.iter().sum::<usize>(), s + o.accepted.len()));
        acc as f64 / steps.max(1) as f64
    };
    let agree: Vec<f64> = base.iter().zip(quant).map(|(b, q)| {
        let same = b.canvas.iter().zip(&q.canvas).filter(|(x, y)| x == y).count();
        100.0 * same as f64 / b.canvas.len().max(1) as f64
    }).collect();
    SamplerReport {
        canvases: n,
        steps_base: mean(&mut base.iter().map(|o| o.steps as f64)),
        steps_quant: mean(&mut quant.iter().map(|o| o.steps as f64)),
        accepted_per_step_base: per_step(base),
        accepted_per_step_quant: per_step(quant),
        same_steps_pct: 100.0 * base.iter().zip(quant).filter(|(b, q)| b.steps == q.steps).count() as f64 / n.max(1) as f64,
        canvas_agreement_pct: mean(&mut agree.iter().copied()),
        identical_canvases: base.iter().zip(quant).filter(|(b, q)| b.canvas == q.canvas).count(),
    }
}

/// A value for the table: `-` when absent, scientific notation when too wide for the column.
fn opt(x: Option<f64>, prec: usize) -> String {
    match x {
        None => "-".into(),
        Some(v) if v.abs() >= 1e5 => format!("{v:.3e}"),
        Some(v) => format!("{v:.prec$}"),
    }
}

fn print_table(r: &Report) {
    println!("base  {}\nmodel {}", r.base, r.model);
    if let Some(k) = r.base_top_k {
        println!("(base from file: KL over its top-{k} tokens + one bucket for the rest; a lower bound of the full KL)");
    }
    println!(
        "{:<16} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>8} {:>10} {:>10}",
        "section", "positions", "KL mean", "median", "p90", "p99", "max", "top-1%", "RMS Δp%", "PPL base", "PPL quant"
    );
    for s in &r.sections {
        println!(
            "{:<16} {:>9} {:>10.6} {:>10.6} {:>10.6} {:>10.6} {:>10.6} {:>7.2} {:>8} {:>10} {:>10}",
            s.name, s.positions, s.kl.mean, s.kl.median, s.kl.p90, s.kl.p99, s.kl.max, s.top1_pct,
            opt(s.rms_dp_pct, 3), opt(s.ppl_base, 3), opt(s.ppl_quant, 3)
        );
    }
    if let Some(s) = &r.sampler {
        println!(
            "sampler: {} canvases | steps/canvas base {:.2} quant {:.2} (same count {:.1}%) | accepted/step base {:.2} quant {:.2} | final canvas agreement {:.2}% ({} identical)",
            s.canvases, s.steps_base, s.steps_quant, s.same_steps_pct, s.accepted_per_step_base, s.accepted_per_step_quant, s.canvas_agreement_pct, s.identical_canvases
        );
    }
}
