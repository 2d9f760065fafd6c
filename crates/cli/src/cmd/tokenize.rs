//! `dgemma tokenize -m MODEL.gguf -p TEXT`: the prompt's token ids as a JSON array, like
//! llama-tokenize (BOS added and special tokens parsed unless told otherwise).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use dgemma_gguf::GgufFile;
use dgemma_tokenizer::GemmaTokenizer;

#[derive(clap::Args)]
pub struct Args {
    /// GGUF model file (only its tokenizer metadata is read).
    #[arg(short, long)]
    pub model: PathBuf,
    /// Text to tokenize.
    #[arg(short, long, conflicts_with = "stdin")]
    pub prompt: Option<String>,
    /// Read one JSON-encoded string per line from stdin; print one JSON array per line.
    #[arg(long)]
    pub stdin: bool,
    /// Do not prepend BOS.
    #[arg(long)]
    pub no_bos: bool,
    /// Treat control tokens in the text as plain text (user-defined tokens still match, as in
    /// llama.cpp).
    #[arg(long)]
    pub no_parse_special: bool,
    /// Wrap the prompt in the model's chat template as one user turn with the generation
    /// prompt appended (what `dgemma run` feeds the model).
    #[arg(long)]
    pub chat: bool,
}

fn ids_json(ids: &[u32]) -> String {
    serde_json::to_string(ids).expect("a list of integers serialises")
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let gguf = GgufFile::open(&args.model).with_context(|| format!("opening {}", args.model.display()))?;
    let tok = GemmaTokenizer::from_gguf(&gguf).with_context(|| format!("tokenizer of {}", args.model.display()))?;
    let encode = |text: &str| -> anyhow::Result<Vec<u32>> {
        if args.chat {
            Ok(tok.chat_prompt(None, text)?)
        } else {
            Ok(tok.encode(text, !args.no_bos, !args.no_parse_special)?)
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.stdin {
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("reading stdin")?;
            if line.trim().is_empty() {
                continue;
            }
            let text: String = serde_json::from_str(&line)
                .with_context(|| format!("stdin line {}: expected a JSON string", n + 1))?;
            writeln!(out, "{}", ids_json(&encode(&text)?))?;
        }
    } else {
        let Some(prompt) = args.prompt.as_deref() else { bail!("give -p TEXT or --stdin") };
        writeln!(out, "{}", ids_json(&encode(prompt)?))?;
    }
    Ok(())
}
