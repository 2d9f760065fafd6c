//! `dgemma quant-error MODEL.gguf --source BASE.gguf|HF_DIR`: RMSE and SNR of every quantized
//! tensor against its source, with summaries per role (attention, dense MLP, experts, …) and
//! per type. An HF directory is first converted to a temporary F32 GGUF (exact for BF16/F16/F32
//! checkpoints), so names and layouts match the model's.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dgemma_convert::{convert, ConvertOptions, OutType};
use dgemma_gguf::GgufFile;
use dgemma_quality::tensor_error::{compare_files, summarize_by, GroupSummary, TensorError};
use serde::Serialize;

use super::kld::Format;
use super::run::open_model_file;

#[derive(clap::Args)]
pub struct Args {
    /// Quantized model.
    pub model: PathBuf,
    /// The unquantized source: a GGUF (BF16/F16/F32) or an HF checkpoint directory.
    #[arg(long)]
    pub source: PathBuf,
    /// Also list every tensor (table output).
    #[arg(long)]
    pub per_tensor: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Serialize)]
struct Report {
    model: String,
    source: String,
    by_role: Vec<GroupSummary>,
    by_type: Vec<GroupSummary>,
    tensors: Vec<TensorError>,
}

/// A temporary F32 GGUF of an HF checkpoint, removed on drop.
struct TempGguf(PathBuf);

impl Drop for TempGguf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn open_source(path: &Path) -> Result<(GgufFile, Option<TempGguf>)> {
    if !path.is_dir() {
        return Ok((open_model_file(path)?, None));
    }
    let tmp = TempGguf(std::env::temp_dir().join(format!("dgemma-quant-error-{}.gguf", std::process::id())));
    let opts = ConvertOptions { input: path.to_path_buf(), output: tmp.0.clone(), out_type: OutType::F32, force: true, progress: false };
    convert(&opts).with_context(|| format!("converting {} to F32", path.display()))?;
    Ok((open_model_file(&tmp.0)?, Some(tmp)))
}

fn db(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "exact".into())
}

fn print_groups(title: &str, groups: &[GroupSummary]) {
    println!("{:<18} {:>7} {:>12} {:>12} {:>9} {:>9}  worst tensor", title, "tensors", "elements", "RMSE", "SNR dB", "min dB");
    for g in groups {
        println!(
            "{:<18} {:>7} {:>12} {:>12.4e} {:>9} {:>9}  {}",
            g.group, g.tensors, g.elements, g.rmse, db(g.snr_db), db(g.min_snr_db), g.worst.as_deref().unwrap_or("-")
        );
    }
}

pub fn run(args: Args) -> Result<()> {
    let model = open_model_file(&args.model)?;
    let (source, _tmp) = open_source(&args.source)?;
    let tensors = compare_files(&model, &source, |_| {})?;
    let report = Report {
        model: args.model.display().to_string(),
        source: args.source.display().to_string(),
        by_role: summarize_by(&tensors, |e| e.role, |r| r.label().to_string()),
        by_type: summarize_by(&tensors, |e| e.ggml_type.clone(), |t| t.clone()),
        tensors,
    };
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => {
            println!("model  {}\nsource {}\n{} quantized tensors", report.model, report.source, report.tensors.len());
            print_groups("role", &report.by_role);
            println!();
            print_groups("type", &report.by_type);
            if args.per_tensor {
                println!("\n{:<40} {:>6} {:>12} {:>12} {:>9}", "tensor", "type", "RMSE", "source RMS", "SNR dB");
                for t in &report.tensors {
                    println!("{:<40} {:>6} {:>12.4e} {:>12.4e} {:>9}", t.name, t.ggml_type, t.rmse, t.source_rms, db(t.snr_db));
                }
            }
        }
    }
    Ok(())
}
