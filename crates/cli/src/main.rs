//! `dgemma`: convert, inspect and run DiffusionGemma GGUF models.
//!
//! One module per subcommand under `cmd/`; each exposes `Args` (clap) and `run(args)`.

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "dgemma", version, about = "DiffusionGemma inference engine (GGUF, CPU/GPU)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a GGUF file's header, metadata and tensor table.
    Info(cmd::info::Args),
    /// Generate text: encode the prompt, denoise canvases, stream them to stdout.
    Run(cmd::run::Args),
    /// One denoiser forward: write the canvas logits to a safetensors file.
    Logits(cmd::logits::Args),
    /// Throughput table: prefill tok/s, denoise ms/step, end-to-end tok/s, peak RSS.
    Bench(cmd::bench::Args),
    /// Convert an HF DiffusionGemma checkpoint to GGUF (or --estimate sizes from a config).
    Convert(cmd::convert::Args),
    /// Requantize a BF16/F16/F32 GGUF like llama-quantize.
    Quantize(cmd::quantize::Args),
    /// Print the token ids of a text as a JSON array (like llama-tokenize).
    Tokenize(cmd::tokenize::Args),
    /// Quantization quality vs a base model: KL divergence, top-1, Δp, perplexity, sampler effects.
    Kld(cmd::kld::Args),
    /// Per-tensor RMSE/SNR of a quantized model against its source, grouped by role.
    QuantError(cmd::quant_error::Args),
    /// List the GPU adapters (Vulkan/Metal) with type, limits and features.
    Devices(cmd::devices::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => cmd::info::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Logits(args) => cmd::logits::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Convert(args) => cmd::convert::run(args),
        Command::Quantize(args) => cmd::quantize::run(args),
        Command::Tokenize(args) => cmd::tokenize::run(args),
        Command::Kld(args) => cmd::kld::run(args),
        Command::QuantError(args) => cmd::quant_error::run(args),
        Command::Devices(args) => cmd::devices::run(args),
    };
    if let Err(err) = result {
        // One readable line (with its causes), non-zero exit, never a panic trace.
        eprintln!("dgemma: error: {err:#}");
        std::process::exit(1);
    }
}
