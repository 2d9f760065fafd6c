//! The tokenizer as GGUF stores it (`tokenizer.ggml.*`, ../shared/spec/gguf.md §2.4), read from
//! a GGUF file or rebuilt from Hugging Face files with the converter's rules.

use std::path::Path;

use dgemma_gguf::arch::keys;
use dgemma_gguf::GgufFile;

use crate::error::TokenizerError;
use crate::token_type::TokenType;

/// Tokens that llama.cpp's Gemma 4 converter forces to USER_DEFINED so they render in output.
pub const FORCED_USER_DEFINED: [&str; 7] =
    ["<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>"];

/// Everything the tokenizer needs, as stored under `tokenizer.*`.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizerMetadata {
    /// `tokenizer.ggml.model` (`gemma4`).
    pub model: String,
    /// Token strings in id order (spaces as `▁`, bytes as `<0xNN>`).
    pub tokens: Vec<String>,
    /// Token types, one per token.
    pub token_types: Vec<TokenType>,
    /// BPE merges, `"left right"` in rank order.
    pub merges: Vec<String>,
    /// Scores, if stored (unused by BPE; the converter writes -1000).
    pub scores: Option<Vec<f32>>,
    /// Beginning-of-sequence id.
    pub bos_id: Option<u32>,
    /// End-of-sequence id.
    pub eos_id: Option<u32>,
    /// Unknown-token id.
    pub unk_id: Option<u32>,
    /// Padding id.
    pub pad_id: Option<u32>,
    /// Mask id (the diffusion CLI requires it).
    pub mask_id: Option<u32>,
    /// Whether BOS is prepended.
    pub add_bos: bool,
    /// Whether a space is prepended to the text (false for Gemma 4).
    pub add_space_prefix: bool,
    /// The Jinja chat template, verbatim.
    pub chat_template: Option<String>,
}

fn optional_u32(gguf: &GgufFile, key: &str) -> Result<Option<u32>, TokenizerError> {
    if gguf.get(key).is_none() {
        return Ok(None);
    }
    let v = gguf.get_uint(key)?;
    u32::try_from(v)
        .map(Some)
        .map_err(|_| TokenizerError::Inconsistent(format!("{key} = {v} does not fit a token id")))
}

fn optional_bool(gguf: &GgufFile, key: &str) -> Result<Option<bool>, TokenizerError> {
    if gguf.get(key).is_none() {
        return Ok(None);
    }
    Ok(Some(gguf.get_bool(key)?))
}

impl TokenizerMetadata {
    /// Reads `tokenizer.*` from a GGUF file. `tokens`, `model` and `merges` are required (as
    /// llama.cpp requires them); token types default to NORMAL when absent.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, TokenizerError> {
        let model = gguf.get_str(keys::TOKENIZER_MODEL)?.to_string();
        let tokens: Vec<String> =
            gguf.get_str_array(keys::TOKENIZER_TOKENS)?.into_iter().map(str::to_string).collect();
        let token_types = if gguf.get(keys::TOKENIZER_TOKEN_TYPE).is_some() {
            gguf.get_array_of::<i32>(keys::TOKENIZER_TOKEN_TYPE)?
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    TokenType::from_id(t).ok_or_else(|| {
                        TokenizerError::Inconsistent(format!("{}[{i}] = {t} is not a token type", keys::TOKENIZER_TOKEN_TYPE))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![TokenType::Normal; tokens.len()]
        };
        let merges = gguf.get_str_array(keys::TOKENIZER_MERGES)?.into_iter().map(str::to_string).collect();
        let scores = match gguf.get(keys::TOKENIZER_SCORES) {
            Some(_) => Some(gguf.get_array_of::<f32>(keys::TOKENIZER_SCORES)?),
            None => None,
        };
        let chat_template = match gguf.get(keys::TOKENIZER_CHAT_TEMPLATE) {
            Some(_) => Some(gguf.get_str(keys::TOKENIZER_CHAT_TEMPLATE)?.to_string()),
            None => None,
        };
        let meta = TokenizerMetadata {
            model,
            tokens,
            token_types,
            merges,
            scores,
            bos_id: optional_u32(gguf, keys::TOKENIZER_BOS_ID)?,
            eos_id: optional_u32(gguf, keys::TOKENIZER_EOS_ID)?,
            unk_id: optional_u32(gguf, keys::TOKENIZER_UNK_ID)?,
            pad_id: optional_u32(gguf, keys::TOKENIZER_PAD_ID)?,
            mask_id: optional_u32(gguf, keys::TOKENIZER_MASK_ID)?,
            add_bos: optional_bool(gguf, keys::TOKENIZER_ADD_BOS)?.unwrap_or(true),
            add_space_prefix: optional_bool(gguf, keys::TOKENIZER_ADD_SPACE_PREFIX)?.unwrap_or(false),
            chat_template,
        };
        meta.check()?;
        Ok(meta)
    }

    /// Rebuilds the metadata llama.cpp's converter would write from a Hugging Face
    /// `tokenizer.json` and `tokenizer_config.json` (gguf.md §2.4): tokens in id order, BYTE
    /// for `<0xNN>`, CONTROL for the named special tokens (and `additional_special_tokens`),
    /// USER_DEFINED for non-special added tokens beyond the base vocabulary and for the seven
    /// Gemma 4 channel/tool tokens, merges joined with a space (spaces inside a part as `Ġ`).
    pub fn from_hf_files(tokenizer_json: &Path, tokenizer_config: &Path) -> Result<Self, TokenizerError> {
        let read = |p: &Path| -> Result<serde_json::Value, TokenizerError> {
            let err = |reason: String| TokenizerError::HfFile { path: p.display().to_string(), reason };
            let text = std::fs::read_to_string(p).map_err(|e| err(e.to_string()))?;
            serde_json::from_str(&text).map_err(|e| err(e.to_string()))
        };
        let tj = read(tokenizer_json)?;
        let tc = read(tokenizer_config)?;
        let bad = |reason: &str| TokenizerError::HfFile { path: tokenizer_json.display().to_string(), reason: reason.to_string() };

        let vocab = tj["model"]["vocab"].as_object().ok_or_else(|| bad("model.vocab is not an object"))?;
        let mut by_id: Vec<Option<String>> = Vec::new();
        let mut put = |id: u64, text: &str| {
            let id = id as usize;
            if by_id.len() <= id {
                by_id.resize(id + 1, None);
            }
            by_id[id] = Some(text.to_string());
        };
        for (text, id) in vocab {
            put(id.as_u64().ok_or_else(|| bad("vocab id is not an integer"))?, text);
        }
        let added = tj["added_tokens"].as_array().cloned().unwrap_or_default();
        for a in &added {
            if let (Some(id), Some(text)) = (a["id"].as_u64(), a["content"].as_str()) {
                put(id, text);
            }
        }
        // Base vocabulary size as transformers counts it: ids in model.vocab.
        let base_vocab = vocab.values().filter_map(|v| v.as_u64()).max().map_or(0, |m| m as usize + 1);
        let tokens: Vec<String> = by_id
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.unwrap_or_else(|| format!("[PAD{i}]")))
            .collect();
        let id_of = |text: &str| tokens.iter().position(|t| t == text).map(|i| i as u32);

        let named = |key: &str| -> Option<u32> { tc[key].as_str().and_then(id_of) };
        let (bos_id, eos_id, unk_id, pad_id, mask_id) =
            (named("bos_token"), named("eos_token"), named("unk_token"), named("pad_token"), named("mask_token"));
        let mut special: Vec<u32> = [bos_id, eos_id, unk_id, pad_id, mask_id].into_iter().flatten().collect();
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            if let Some(list) = tc[key].as_array() {
                special.extend(list.iter().filter_map(|s| s.as_str()).filter_map(id_of));
            }
        }

        let mut token_types: Vec<TokenType> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if is_byte_token(t) {
                    TokenType::Byte
                } else if special.contains(&(i as u32)) {
                    TokenType::Control
                } else {
                    TokenType::Normal
                }
            })
            .collect();
        for a in &added {
            if let Some(id) = a["id"].as_u64() {
                let id = id as usize;
                if id >= base_vocab && !a["special"].as_bool().unwrap_or(false) {
                    token_types[id] = TokenType::UserDefined;
                }
            }
        }
        for name in FORCED_USER_DEFINED {
            if let Some(id) = id_of(name) {
                token_types[id as usize] = TokenType::UserDefined;
            }
        }

        let merges = tj["model"]["merges"].as_array().ok_or_else(|| bad("model.merges is not an array"))?;
        let merges = merges
            .iter()
            .map(|m| match m {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Array(pair) if pair.len() == 2 => {
                    let part = |v: &serde_json::Value| v.as_str().map(|s| s.replace(' ', "\u{0120}"));
                    match (part(&pair[0]), part(&pair[1])) {
                        (Some(a), Some(b)) => Ok(format!("{a} {b}")),
                        _ => Err(bad("merge pair holds a non-string")),
                    }
                }
                _ => Err(bad("merge is neither a string nor a pair")),
            })
            .collect::<Result<Vec<_>, _>>()?;

        let meta = TokenizerMetadata {
            model: "gemma4".to_string(),
            scores: Some(vec![-1000.0; tokens.len()]),
            tokens,
            token_types,
            merges,
            bos_id,
            eos_id,
            unk_id,
            pad_id,
            mask_id,
            add_bos: true,
            add_space_prefix: false,
            chat_template: tc["chat_template"].as_str().map(str::to_string),
        };
        meta.check()?;
        Ok(meta)
    }

    /// Array lengths agree and special ids are inside the vocabulary.
    fn check(&self) -> Result<(), TokenizerError> {
        let n = self.tokens.len();
        if n == 0 {
            return Err(TokenizerError::Inconsistent("tokenizer.ggml.tokens is empty".into()));
        }
        if self.token_types.len() != n {
            return Err(TokenizerError::Inconsistent(format!(
                "{} token types for {n} tokens",
                self.token_types.len()
            )));
        }
        if let Some(s) = &self.scores {
            if s.len() != n {
                return Err(TokenizerError::Inconsistent(format!("{} scores for {n} tokens", s.len())));
            }
        }
        for (name, id) in [("bos", self.bos_id), ("eos", self.eos_id), ("unknown", self.unk_id), ("padding", self.pad_id), ("mask", self.mask_id)] {
            if let Some(id) = id {
                if id as usize >= n {
                    return Err(TokenizerError::Inconsistent(format!("{name} token id {id} >= vocabulary size {n}")));
                }
            }
        }
        Ok(())
    }
}

/// `<0xNN>` with two hex digits.
pub(crate) fn is_byte_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 6 && t.starts_with("<0x") && b[5] == b'>' && b[3].is_ascii_hexdigit() && b[4].is_ascii_hexdigit()
}
