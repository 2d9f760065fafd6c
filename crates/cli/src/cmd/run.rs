//! `dgemma run -m MODEL.gguf -p PROMPT`: encode the prompt, generate canvases with the
//! entropy-bounded sampler, stream each committed canvas to stdout, timings to stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use dgemma_backend::Backend;
use dgemma_backend_cpu::CpuBackend;
use dgemma_backend_wgpu::{GpuApi, WgpuBackend, WgpuError, WgpuOptions};
use dgemma_gguf::arch::keys;
use dgemma_gguf::{GgufFile, Value};
use dgemma_model::{Model, Session};
use dgemma_sampler::{generate, GenerateConfig, LlamaRng, SamplerOverrides, SamplerParams, StepEvent};
use dgemma_tokenizer::GemmaTokenizer;

/// Backends `dgemma run` can use (`auto` = a hardware GPU if one is visible, else the CPU).
pub const BACKENDS: &[&str] = &["auto", "cpu", "vulkan", "metal"];

/// The compute backend asked for with `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BackendKind {
    Auto,
    Cpu,
    Gpu(GpuApi),
}

impl BackendKind {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "auto" => Self::Auto,
            "cpu" => Self::Cpu,
            "vulkan" => Self::Gpu(GpuApi::Vulkan),
            "metal" => Self::Gpu(GpuApi::Metal),
            "cuda" => bail!("backend 'cuda' is not built into this binary (available: {})", BACKENDS.join(", ")),
            other => bail!("unknown backend '{other}' (available: {})", BACKENDS.join(", ")),
        })
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Model file (GGUF, arch diffusion-gemma).
    #[arg(short = 'm', long)]
    pub model: PathBuf,
    /// Prompt text.
    #[arg(short = 'p', long, conflicts_with = "file")]
    pub prompt: Option<String>,
    /// Read the prompt from this file.
    #[arg(short = 'f', long)]
    pub file: Option<PathBuf>,
    /// Apply the model's chat template (a single user turn, generation prompt appended).
    #[arg(long)]
    pub chat: bool,
    /// Maximum new tokens (whole canvases are generated; the answer is cut to this length).
    #[arg(short = 'n', long = "n-predict")]
    pub n_predict: Option<usize>,
    /// Maximum denoising steps per canvas.
    #[arg(long)]
    pub steps: Option<u32>,
    /// Temperature of the first step.
    #[arg(long)]
    pub temp_max: Option<f64>,
    /// Temperature the schedule approaches at the last step.
    #[arg(long)]
    pub temp_min: Option<f64>,
    /// Entropy bound of the acceptance rule (nats).
    #[arg(long)]
    pub entropy_bound: Option<f64>,
    /// Steps the argmax canvas must repeat before a canvas may stop early.
    #[arg(long)]
    pub stability: Option<u32>,
    /// Mean entropy (nats) below which a stable canvas stops.
    #[arg(long)]
    pub confidence: Option<f64>,
    /// Cut a canvas at the start of a repetition loop (llama.cpp; off reproduces the reference).
    #[arg(long)]
    pub repetition_cut: bool,
    /// Random seed (llama.cpp's default 0xFFFFFFFF).
    #[arg(short = 's', long, default_value_t = 0xFFFF_FFFF)]
    pub seed: u32,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Compute backend: auto, cpu, vulkan or metal (auto: a hardware GPU, else the CPU).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// GPU adapter index (see `dgemma devices`); software adapters are used only when named here
    /// or when a GPU API is asked for explicitly.
    #[arg(long)]
    pub device: Option<usize>,
    /// Prompt rows encoded per chunk.
    #[arg(short = 'b', long, default_value_t = 512)]
    pub batch: usize,
    /// Opt-in approximation (off = 0, exact): before the self-conditioning soft embedding, drop
    /// every probability below this fraction of its row's largest (e.g. 1e-4), so the vocabulary
    /// rows nobody weighs are skipped. Its effect on quality is not measured.
    #[arg(long, default_value_t = 0.0, value_parser = parse_cutoff)]
    pub soft_embed_cutoff: f32,
    /// Opt-in approximation (off: exact f32): compute the self-conditioning soft embedding with
    /// bfloat16 operands on CPUs with AVX-512 BF16 (about twice as fast; the probabilities and
    /// embedding values keep 8 significant bits). CPU backend only; its effect on quality is not
    /// measured.
    #[arg(long)]
    pub soft_embed_bf16: bool,
    /// Redraw the canvas in place at every step (on a terminal): accepted tokens bright, noise dim.
    #[arg(long)]
    pub show_canvas: bool,
}

/// A `--soft-embed-cutoff` value: a number in [0, 1].
pub fn parse_cutoff(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!("{x} is outside [0, 1]")),
        Err(e) => Err(format!("'{s}': {e}")),
    }
}

/// The CPU backend for generating and benchmarking: `threads` threads, and the opt-in
/// bfloat16 soft embedding (`--soft-embed-bf16`), with a warning where this CPU cannot run it.
/// With a GPU backend the option is reported as ignored.
pub(crate) fn cpu_backend(threads: usize, soft_embed_bf16: bool, on_gpu: bool) -> Result<Option<CpuBackend>> {
    if on_gpu {
        if soft_embed_bf16 {
            eprintln!("warning: --soft-embed-bf16 applies to the CPU backend only; ignored");
        }
        return Ok(None);
    }
    let backend = CpuBackend::new(threads)?;
    if soft_embed_bf16 && !backend.set_bf16_soft_embedding(true) {
        eprintln!("warning: --soft-embed-bf16: this CPU has no AVX-512 BF16; the soft embedding stays exact (f32)");
    }
    Ok(Some(backend))
}

/// The CPU backend for subcommands that run only there, or an error naming the choice.
pub fn open_backend(name: &str, threads: usize) -> Result<CpuBackend> {
    match name {
        "cpu" => Ok(CpuBackend::new(threads)?),
        other => bail!("backend '{other}' is not available for this subcommand (available: cpu)"),
    }
}

/// A wgpu device for `api`; `None` when `auto` finds no hardware GPU (the caller falls back to
/// the CPU).
pub(crate) fn open_gpu(api: GpuApi, device: Option<usize>, explicit: bool) -> Result<Option<WgpuBackend>> {
    // `DGEMMA_WGPU_UNROLLED_TILES=0` goes back to the previous product kernels
    // (`WgpuOptions::no_unrolled_tiles`), for comparing them end to end (docs/gpu.md); any other
    // value, or none, keeps the unrolled tiles.
    let no_unrolled_tiles = std::env::var_os("DGEMMA_WGPU_UNROLLED_TILES").is_some_and(|v| v == "0");
    let allow_software = explicit || device.is_some();
    let options = WgpuOptions { api, adapter: device, allow_software, no_unrolled_tiles, ..Default::default() };
    match WgpuBackend::new(&options) {
        Ok(gpu) => {
            let tiles = if no_unrolled_tiles { ", looped tiles" } else { "" };
            eprintln!("gpu: {} ({:?}, {}{tiles})", gpu.adapter().name, gpu.adapter().kind, gpu.adapter().backend);
            Ok(Some(gpu))
        }
        Err(WgpuError::NoAdapter { .. }) if !explicit => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Open a GGUF model file with the path in the error.
pub fn open_model_file(path: &std::path::Path) -> Result<GgufFile> {
    GgufFile::open(path).with_context(|| format!("cannot load model {}", path.display()))
}

/// Sampler settings stored in the GGUF (`diffusion.eb_*`), each optional.
fn gguf_overrides(file: &GgufFile) -> SamplerOverrides {
    let u = |k| match file.get(k) {
        Some(v) => v.as_integer().and_then(|i| u32::try_from(i).ok()),
        None => None,
    };
    let f = |k| match file.get(k) {
        Some(Value::F32(x)) => Some(x as f64),
        Some(Value::F64(x)) => Some(x),
        _ => None,
    };
    SamplerOverrides {
        max_new_tokens: None,
        max_steps: u(keys::DIFFUSION_EB_MAX_STEPS),
        entropy_bound: f(keys::DIFFUSION_EB_ENTROPY_BOUND),
        t_min: f(keys::DIFFUSION_EB_T_MIN),
        t_max: f(keys::DIFFUSION_EB_T_MAX),
        stability_threshold: u(keys::DIFFUSION_EB_STABILITY),
        confidence_threshold: f(keys::DIFFUSION_EB_CONFIDENCE),
    }
}

pub fn run(args: Args) -> Result<()> {
    // Everything the user can get wrong is checked before any model work.
    let kind = BackendKind::parse(&args.backend)?;
    let text = match (&args.prompt, &args.file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("cannot read prompt file {}", f.display()))?,
        (None, None) => bail!("no prompt: give -p TEXT or -f FILE"),
    };
    let file = open_model_file(&args.model)?;
    let cli = SamplerOverrides {
        max_new_tokens: args.n_predict,
        max_steps: args.steps,
        entropy_bound: args.entropy_bound,
        t_min: args.temp_min,
        t_max: args.temp_max,
        stability_threshold: args.stability,
        confidence_threshold: args.confidence,
    };
    let params = SamplerParams::resolve(&cli, &gguf_overrides(&file))?;
    let tok = GemmaTokenizer::from_gguf(&file).context("tokenizer")?;
    let prompt = if args.chat { tok.chat_prompt(None, &text)? } else { tok.encode(&text, true, true)? };

    let gpu = match kind {
        BackendKind::Cpu => None,
        BackendKind::Auto => open_gpu(GpuApi::Auto, args.device, false)?,
        BackendKind::Gpu(api) => open_gpu(api, args.device, true)?,
    };
    match (cpu_backend(args.threads, args.soft_embed_bf16, gpu.is_some())?, gpu) {
        (Some(cpu), _) => generate_on(&cpu, &args, &file, &tok, &prompt, &params),
        (None, Some(gpu)) => generate_on(&gpu, &args, &file, &tok, &prompt, &params),
        (None, None) => unreachable!("cpu_backend gives a backend when there is no GPU"),
    }
}

/// Load the model on `backend`, encode the prompt, generate and stream the canvases.
fn generate_on<B: Backend>(
    backend: &B,
    args: &Args,
    file: &GgufFile,
    tok: &GemmaTokenizer,
    prompt: &[u32],
    params: &SamplerParams,
) -> Result<()> {
    let t_load = Instant::now();
    let model = Model::load(file, backend)?;
    let load_s = t_load.elapsed().as_secs_f64();
    let cfg = &model.cfg;
    let blocks = params.max_new_tokens.div_ceil(cfg.canvas);
    let ctx = prompt.len() + blocks * cfg.canvas;
    if ctx > cfg.context_length {
        bail!(
            "prompt of {} tokens + {} canvas tokens needs {ctx} positions, the model's context is {}",
            prompt.len(),
            blocks * cfg.canvas,
            cfg.context_length
        );
    }
    let mut session = Session::new(&model, ctx, args.batch);
    session.set_soft_embed_cutoff(args.soft_embed_cutoff);
    session.prefill(prompt)?;

    let gen_cfg = GenerateConfig {
        vocab: cfg.vocab,
        canvas_length: cfg.canvas,
        end_of_generation: tok.end_of_generation().to_vec(),
        pad_id: tok.pad_id().unwrap_or(0),
        repetition_cut: args.repetition_cut,
    };
    let mut rng = LlamaRng::new(args.seed);
    let show = args.show_canvas && std::io::stderr().is_terminal();
    let view = std::cell::RefCell::new(CanvasView::new(tok, show));
    let mut stdout = std::io::stdout().lock();
    let mut piece = Vec::new();
    let mut printed = 0usize;
    let mut out_err: Option<std::io::Error> = None;
    let gen = generate(
        &mut session,
        params,
        &gen_cfg,
        &mut rng,
        |ev| view.borrow_mut().draw(ev),
        |ev| {
            view.borrow_mut().clear();
            // The answer is cut to -n tokens; whole canvases were generated.
            let room = params.max_new_tokens.saturating_sub(printed);
            for &id in ev.tokens.iter().take(room) {
                piece.clear();
                if tok.piece_bytes(id, false, &mut piece).is_ok() {
                    if let Err(e) = stdout.write_all(&piece) {
                        out_err.get_or_insert(e);
                    }
                }
            }
            printed += ev.tokens.len().min(room);
            if let Err(e) = stdout.flush() {
                out_err.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = out_err {
        return Err(e).context("writing to stdout");
    }
    writeln!(stdout)?;
    drop(stdout);
    report(&session, &gen, load_s, backend.threads());
    Ok(())
}

/// Timing summary on stderr.
fn report<B: Backend>(session: &Session<'_, '_, B>, gen: &dgemma_sampler::Generation, load_s: f64, threads: usize) {
    let t = &session.times;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    let per_s = |n: usize, d: f64| if d > 0.0 { n as f64 / d } else { 0.0 };
    let blocks = gen.steps_per_block.len().max(1);
    let gen_s = secs(t.denoise) + secs(t.commit);
    eprintln!(
        "\nload {:.2} s | prefill {} tok in {:.2} s ({:.1} tok/s) | {} canvases, {:.1} steps/canvas, {:.1} ms/step | \
         generated {} tok in {:.2} s ({:.2} tok/s) | {:.2} tokens/forward | {} threads",
        load_s,
        t.prefill_tokens,
        secs(t.prefill),
        per_s(t.prefill_tokens, secs(t.prefill)),
        gen.steps_per_block.len(),
        gen.decoder_passes as f64 / blocks as f64,
        if t.denoise_steps > 0 { secs(t.denoise) * 1e3 / t.denoise_steps as f64 } else { 0.0 },
        gen.tokens.len(),
        gen_s,
        per_s(gen.tokens.len(), gen_s),
        gen.tokens_per_forward,
        threads,
    );
}

/// Live canvas drawing on stderr (ANSI): accepted tokens bright, re-noised ones dim.
struct CanvasView<'t> {
    tok: &'t GemmaTokenizer,
    on: bool,
    drawn: bool,
    buf: Vec<u8>,
}

impl<'t> CanvasView<'t> {
    fn new(tok: &'t GemmaTokenizer, on: bool) -> Self {
        Self { tok, on, drawn: false, buf: Vec::new() }
    }

    fn draw(&mut self, ev: &StepEvent<'_>) {
        if !self.on {
            return;
        }
        let mut err = std::io::stderr().lock();
        // Save the cursor on the first draw of a block, restore it on later ones.
        let _ = err.write_all(if self.drawn { b"\x1b8\x1b[J" } else { b"\x1b7" });
        self.drawn = true;
        let _ = write!(err, "\x1b[36m[block {} step {} t={:.2} accepted {}/{} H={:.3}]\x1b[0m ", ev.block, ev.step, ev.temperature, ev.accepted, ev.canvas.len(), ev.mean_entropy);
        for (&id, &acc) in ev.next_canvas.iter().zip(ev.accept) {
            self.buf.clear();
            let _ = self.tok.piece_bytes(id, true, &mut self.buf);
            let shown: Vec<u8> = self.buf.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
            let _ = err.write_all(if acc { b"\x1b[1m" } else { b"\x1b[2m" });
            let _ = err.write_all(&shown);
            let _ = err.write_all(b"\x1b[0m");
        }
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.on && self.drawn {
            let _ = std::io::stderr().write_all(b"\x1b8\x1b[J");
            self.drawn = false;
        }
    }
}
