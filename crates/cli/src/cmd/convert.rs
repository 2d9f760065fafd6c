//! `dgemma convert HF_DIR -o OUT.gguf --type TYPE` and `dgemma convert --estimate CONFIG.json`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use dgemma_convert::{convert, estimate_from_config, ConvertOptions, OutType};

#[derive(clap::Args)]
pub struct Args {
    /// HF checkpoint directory (config.json, *.safetensors, tokenizer.json, ...).
    pub input: Option<PathBuf>,
    /// Output GGUF file.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Output type: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k.
    #[arg(short = 't', long = "type", default_value = "bf16")]
    pub out_type: String,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Print the exact file size per type for this config.json instead of converting.
    #[arg(long, value_name = "CONFIG.json", conflicts_with_all = ["input", "output"])]
    pub estimate: Option<PathBuf>,
    /// With --estimate: take this as the header size (data offset) instead of computing it
    /// (the published 26B files: 15824736).
    #[arg(long, requires = "estimate")]
    pub header_bytes: Option<u64>,
    /// Threads for quantization (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub(crate) fn gb(bytes: u64) -> String {
    format!("{:.2} GB / {:.2} GiB", bytes as f64 / 1e9, bytes as f64 / (1u64 << 30) as f64)
}

pub(crate) fn with_threads<T>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> anyhow::Result<T>
where
    T: Send,
{
    match threads {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().context("thread pool")?;
            Ok(pool.install(f))
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(config) = args.estimate {
        let (_, est, with_tok) = estimate_from_config(&config, args.header_bytes)?;
        println!("{:<8} {:>16} {:>28} {:>8}", "type", "bytes", "size", "bpw");
        for e in &est {
            println!("{:<8} {:>16} {:>28} {:>8.3}", e.out.name(), e.bytes, gb(e.bytes), e.bpw());
        }
        if args.header_bytes.is_none() && !with_tok {
            eprintln!("note: no tokenizer.json beside the config: header sizes exclude the tokenizer metadata (pass --header-bytes)");
        }
        return Ok(());
    }
    let Some(input) = args.input else { bail!("missing HF_DIR (or --estimate CONFIG.json)") };
    let Some(output) = args.output else { bail!("missing -o OUT.gguf") };
    let out_type: OutType = args.out_type.parse()?;
    let opts = ConvertOptions { input, output: output.clone(), out_type, force: args.force, progress: !args.quiet };
    let summary = with_threads(args.threads, || convert(&opts))??;
    for n in &summary.notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "wrote {}: {} tensors, {} bytes ({}), {:.3} bpw, {:.1} s, {:.0} MB/s",
        output.display(),
        summary.n_tensors,
        summary.bytes,
        gb(summary.bytes),
        summary.bpw(),
        summary.seconds,
        summary.bytes as f64 / 1e6 / summary.seconds.max(1e-9)
    );
    Ok(())
}
