//! `dgemma info FILE.gguf`: header, metadata and tensor table, like gguf-dump.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use dgemma_gguf::{GgufFile, Value};

/// Array elements shown before "...".
const ARRAY_PREVIEW: usize = 8;

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file to describe.
    pub file: PathBuf,
    /// Longest string value shown in full (in characters); longer ones are cut.
    #[arg(long, default_value_t = 80)]
    pub max_string: usize,
    /// Leave out the tensor table.
    #[arg(long)]
    pub no_tensors: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = GgufFile::open(&args.file)?;
    let mut text = String::new();
    describe(&file, &args, &mut text)?;
    print!("{text}");
    Ok(())
}

/// The whole report: header line, metadata in file order, tensor table, totals.
pub fn describe(f: &GgufFile, args: &Args, out: &mut impl fmt::Write) -> fmt::Result {
    writeln!(
        out,
        "GGUF v{}: {} metadata entries, {} tensors, alignment {}, data offset {}, file {} bytes",
        f.version(),
        f.n_kv(),
        f.tensors().len(),
        f.alignment(),
        f.data_offset(),
        f.bytes().len()
    )?;
    writeln!(out, "\nmetadata:")?;
    let key_width = f.metadata().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    for (i, (key, value)) in f.metadata().enumerate() {
        let (ty, shown) = format_value(value, args.max_string);
        writeln!(out, "{:>5}  {key:<key_width$}  {ty:<16}  {shown}", i + 1)?;
    }
    if !args.no_tensors {
        writeln!(out, "\ntensors:")?;
        let name_width = f.tensors().iter().map(|t| t.name.len()).max().unwrap_or(0);
        for (i, t) in f.tensors().iter().enumerate() {
            let shape = t.dims.iter().map(u64::to_string).collect::<Vec<_>>().join(" x ");
            writeln!(
                out,
                "{:>5}  {:<name_width$}  {:<7}  {shape:<24}  {:>12} bytes",
                i + 1,
                t.name,
                t.ggml_type.name(),
                t.n_bytes()
            )?;
        }
    }
    let params: u64 = f.tensors().iter().map(|t| t.n_elements()).sum();
    let bytes: u64 = f.tensors().iter().map(|t| t.n_bytes()).sum();
    let bpw = if params == 0 { 0.0 } else { bytes as f64 * 8.0 / params as f64 };
    writeln!(
        out,
        "\ntotal: {params} parameters ({}), {bytes} bytes of tensor data ({}), {bpw:.2} bits per weight",
        human(params as f64, ""),
        human(bytes as f64, "B")
    )
}

/// The type column and the value column for one metadata value.
fn format_value(v: Value<'_>, max_string: usize) -> (String, String) {
    match v {
        Value::String(s) => ("STRING".into(), quote(s, max_string)),
        Value::Array(a) => {
            let mut shown = String::from("[");
            for (i, e) in a.iter().take(ARRAY_PREVIEW).enumerate() {
                if i > 0 {
                    shown.push_str(", ");
                }
                shown.push_str(&format_value(e, max_string.min(24)).1);
            }
            if a.len() > ARRAY_PREVIEW {
                shown.push_str(", ...");
            }
            shown.push(']');
            (format!("[{}; {}]", a.elem_type(), a.len()), shown)
        }
        other => (other.value_type().to_string(), scalar(other)),
    }
}

fn scalar(v: Value<'_>) -> String {
    match v {
        Value::U8(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => format!("{x:?}"),
        Value::F64(x) => format!("{x:?}"),
        Value::Bool(x) => x.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("[{}; {}]", a.elem_type(), a.len()),
    }
}

/// `s` quoted with escapes, cut to `max` characters with a note of the full length.
fn quote(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return format!("{s:?}");
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut:?}... ({n} chars)")
}

/// 1234567 -> "1.23 M".
fn human(x: f64, unit: &str) -> String {
    let mut s = String::new();
    let (v, p) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")]
        .into_iter()
        .find(|(d, _)| x >= *d)
        .map_or((x, ""), |(d, p)| (x / d, p));
    let _ = write!(s, "{v:.2} {p}{unit}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use dgemma_gguf::{GgmlType, GgufWriter};

    fn args(max_string: usize) -> Args {
        Args { file: PathBuf::new(), max_string, no_tensors: false }
    }

    fn sample() -> GgufFile {
        let mut w = GgufWriter::new(Vec::new());
        w.add_str("general.architecture", "diffusion-gemma").unwrap();
        w.add_u32("diffusion-gemma.block_count", 30).unwrap();
        w.add_f32("eps", 1e-6).unwrap();
        w.add_str("tokenizer.chat_template", &"x".repeat(500)).unwrap();
        let tokens: Vec<String> = (0..100).map(|i| format!("tok{i}")).collect();
        w.add_str_array("tokenizer.ggml.tokens", &tokens).unwrap();
        w.add_tensor_info("output_norm.weight", &[64], GgmlType::F32).unwrap();
        w.add_tensor_info("blk.0.attn_q.weight", &[256, 4], GgmlType::Q4_K).unwrap();
        w.write_tensor_data("output_norm.weight", &[0; 256]).unwrap();
        w.write_tensor_data("blk.0.attn_q.weight", &[0; 4 * 144]).unwrap();
        GgufFile::from_bytes(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn report_lists_header_metadata_tensors_and_totals() {
        let mut s = String::new();
        describe(&sample(), &args(40), &mut s).unwrap();
        assert!(s.starts_with("GGUF v3: 5 metadata entries, 2 tensors, alignment 32"), "{s}");
        assert!(s.contains("diffusion-gemma.block_count  UINT32            30"), "{s}");
        assert!(s.contains(r#"STRING            "diffusion-gemma""#), "{s}");
        assert!(s.contains("FLOAT32           1e-6"), "{s}");
        assert!(s.contains(&format!("{:?}... (500 chars)", "x".repeat(40))), "{s}");
        assert!(s.contains(r#"[STRING; 100]     ["tok0", "tok1", "tok2", "tok3", "tok4", "tok5", "tok6", "tok7", ...]"#), "{s}");
        assert!(s.contains("blk.0.attn_q.weight  q4_K     256 x 4"), "{s}");
        assert!(s.contains("576 bytes"), "{s}");
        // 64 + 1024 params, 256 + 576 bytes: 832 * 8 / 1088 = 6.12 bits per weight.
        assert!(s.contains("total: 1088 parameters (1.09 K), 832 bytes of tensor data (832.00 B), 6.12 bits per weight"), "{s}");
        let order: Vec<_> = ["general.architecture", "diffusion-gemma.block_count", "eps", "tokenizer.chat_template"]
            .iter()
            .map(|k| s.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "metadata out of file order");
    }

    #[test]
    fn no_tensors_flag_drops_the_table() {
        let mut s = String::new();
        describe(&sample(), &Args { no_tensors: true, ..args(80) }, &mut s).unwrap();
        assert!(!s.contains("tensors:") && s.contains("total: 1088 parameters"), "{s}");
    }
}
