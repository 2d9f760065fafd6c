//! `dgemma quantize IN.gguf OUT.gguf TYPE [--allow-requantize]`: llama-quantize for
//! DiffusionGemma files.

use std::path::PathBuf;

use dgemma_convert::{quantize_gguf, OutType, QuantizeOptions};

use super::convert::{gb, with_threads};

#[derive(clap::Args)]
pub struct Args {
    /// Input GGUF (BF16, F16 or F32).
    pub input: PathBuf,
    /// Output GGUF.
    pub output: PathBuf,
    /// Type: q4_0, q8_0, q4_k_m, q5_k_m, q6_k (also f32, f16, bf16).
    pub out_type: String,
    /// Allow requantizing tensors that are already quantized (loses quality).
    #[arg(long)]
    pub allow_requantize: bool,
    /// Overwrite an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let out_type: OutType = args.out_type.parse()?;
    let opts = QuantizeOptions {
        input: args.input,
        output: args.output.clone(),
        out_type,
        allow_requantize: args.allow_requantize,
        force: args.force,
        progress: !args.quiet,
    };
    let s = with_threads(args.threads, || quantize_gguf(&opts))??;
    eprintln!(
        "wrote {}: {} tensors, {} bytes ({}), {:.3} bpw, {:.1} s",
        args.output.display(),
        s.n_tensors,
        s.bytes,
        gb(s.bytes),
        s.bpw(),
        s.seconds
    );
    Ok(())
}
