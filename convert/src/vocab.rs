//! `tokenizer.json` + `tokenizer_config.json` -> the `tokenizer.*` metadata llama.cpp's
//! converter writes for this architecture (Gemma 4 vocab path, ../shared/spec/gguf.md §2.4),
//! byte for byte: the target is the record hashes in ../shared/interop/reference/gguf.json.

use std::path::Path;

use dgemma_gguf::arch::keys;
use serde_json::Value;

use crate::config::read_json;
use crate::error::{ConvertError, Result};
use crate::meta_value::{MetaValue, Metadata};

/// Token types (llama.cpp `llama_token_type`).
mod token_type {
    pub const NORMAL: i32 = 1;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const BYTE: i32 = 6;
}

/// Tokens the Gemma 4 converter forces to USER_DEFINED so they render in output.
const FORCED_USER_DEFINED: [&str; 7] =
    ["<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>"];

/// gguf-py's special token kinds, in the order it writes their ids.
const SPECIAL_KINDS: [(&str, &str); 7] = [
    ("bos", keys::TOKENIZER_BOS_ID),
    ("eos", keys::TOKENIZER_EOS_ID),
    ("unk", keys::TOKENIZER_UNK_ID),
    ("sep", keys::TOKENIZER_SEP_ID),
    ("pad", keys::TOKENIZER_PAD_ID),
    ("cls", keys::TOKENIZER_CLS_ID),
    ("mask", keys::TOKENIZER_MASK_ID),
];

/// The tokenizer metadata of one checkpoint, ready to append.
#[derive(Clone, Debug)]
pub struct Vocab {
    /// Number of tokens (rows the embedding must have).
    pub n_tokens: usize,
    /// The `tokenizer.*` records in the converter's order.
    pub metadata: Metadata,
}

fn json_err(path: &Path, msg: impl Into<String>) -> ConvertError {
    ConvertError::Json { path: path.to_path_buf(), msg: msg.into() }
}

/// A special token's string in tokenizer_config.json: either a string or `{"content": ...}`.
fn token_string(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("content").and_then(Value::as_str))
}

fn is_byte_token(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6 && s.starts_with("<0x") && s.ends_with('>') && b[3].is_ascii_hexdigit() && b[4].is_ascii_hexdigit()
}

impl Vocab {
    /// Reads `tokenizer.json`, `tokenizer_config.json` (and `chat_template.jinja` if the config has
    /// no template) from `dir`; `config` is the parsed config.json (fallback for special ids).
    pub fn from_dir(dir: &Path, config: &Value) -> Result<Self> {
        let tok_path = dir.join("tokenizer.json");
        let tok = read_json(&tok_path)?;
        let cfg_path = dir.join("tokenizer_config.json");
        let tcfg = if cfg_path.exists() { read_json(&cfg_path)? } else { Value::Object(Default::default()) };
        let jinja = dir.join("chat_template.jinja");
        let jinja = if jinja.exists() {
            Some(std::fs::read_to_string(&jinja).map_err(|e| ConvertError::io(&jinja, e))?)
        } else {
            None
        };
        Self::from_json(&tok, &tok_path, &tcfg, config, jinja)
    }

    /// Builds the records from parsed JSON. `tok_path` names tokenizer.json in errors.
    pub fn from_json(tok: &Value, tok_path: &Path, tcfg: &Value, config: &Value, jinja: Option<String>) -> Result<Self> {
        let model = tok.get("model").ok_or_else(|| json_err(tok_path, "no `model`"))?;
        if model.get("type").and_then(Value::as_str) != Some("BPE") {
            return Err(json_err(tok_path, "model.type is not BPE (the gemma4 vocabulary is BPE)"));
        }
        let vocab = model.get("vocab").and_then(Value::as_object).ok_or_else(|| json_err(tok_path, "no model.vocab"))?;
        let added: Vec<&Value> = tok.get("added_tokens").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        let n_base = vocab.len();
        let mut n_tokens = n_base;
        for a in &added {
            if let Some(id) = a.get("id").and_then(Value::as_u64) {
                n_tokens = n_tokens.max(id as usize + 1);
            }
        }
        let mut tokens: Vec<Option<String>> = vec![None; n_tokens];
        for (s, id) in vocab {
            let id = id.as_u64().ok_or_else(|| json_err(tok_path, format!("token `{s}` has no integer id")))? as usize;
            if id >= n_tokens {
                return Err(json_err(tok_path, format!("token id {id} out of range")));
            }
            tokens[id] = Some(s.clone());
        }
        for a in &added {
            if let (Some(id), Some(s)) = (a.get("id").and_then(Value::as_u64), a.get("content").and_then(Value::as_str)) {
                tokens[id as usize] = Some(s.to_string());
            }
        }
        let tokens: Vec<String> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.ok_or_else(|| json_err(tok_path, format!("no token for id {i}"))))
            .collect::<Result<_>>()?;

        let added_id = |s: &str| -> Option<u32> {
            added.iter().find(|a| a.get("content").and_then(Value::as_str) == Some(s)).and_then(|a| a.get("id")?.as_u64()).map(|x| x as u32)
        };
        // Special ids: tokenizer_config strings resolved through tokenizer.json's added tokens,
        // then config.json `<kind>_token_id` (gguf-py SpecialVocab).
        let mut special: Vec<(&str, &str, u32)> = Vec::new();
        for (kind, key) in SPECIAL_KINDS {
            let from_cfg = tcfg.get(format!("{kind}_token")).and_then(token_string).and_then(added_id);
            let id = from_cfg.or_else(|| config.get(format!("{kind}_token_id")).and_then(Value::as_u64).map(|x| x as u32));
            if let Some(id) = id {
                special.push((kind, key, id));
            }
        }

        // CONTROL = the HF tokenizer's special-token ids (named special tokens plus
        // additional/extra special tokens), not every added token flagged special.
        let mut control: Vec<u32> = special.iter().map(|s| s.2).collect();
        for list_key in ["additional_special_tokens", "extra_special_tokens"] {
            let items: Vec<&Value> = match tcfg.get(list_key) {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(Value::Object(o)) => o.values().collect(),
                _ => vec![],
            };
            control.extend(items.into_iter().filter_map(token_string).filter_map(added_id));
        }
        let mut types: Vec<i32> = tokens
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if is_byte_token(s) {
                    token_type::BYTE
                } else if control.contains(&(i as u32)) {
                    token_type::CONTROL
                } else {
                    token_type::NORMAL
                }
            })
            .collect();
        for a in &added {
            let id = a.get("id").and_then(Value::as_u64).unwrap_or(0) as usize;
            let is_special = a.get("special").and_then(Value::as_bool).unwrap_or(false);
            if id >= n_base && !is_special {
                types[id] = token_type::USER_DEFINED;
            }
        }
        for (i, s) in tokens.iter().enumerate() {
            if FORCED_USER_DEFINED.contains(&s.as_str()) {
                types[i] = token_type::USER_DEFINED;
            }
        }

        let merges = merges(model, tok_path)?;
        let mut m = Metadata::new();
        m.set(keys::TOKENIZER_MODEL, MetaValue::Str("gemma4".into()));
        m.set(keys::TOKENIZER_TOKENS, MetaValue::ArrStr(tokens));
        m.set(keys::TOKENIZER_SCORES, MetaValue::ArrF32(vec![-1000.0; n_tokens]));
        m.set(keys::TOKENIZER_TOKEN_TYPE, MetaValue::ArrI32(types));
        m.set(keys::TOKENIZER_MERGES, MetaValue::ArrStr(merges));
        for (_, key, id) in &special {
            m.set(*key, MetaValue::U32(*id));
        }
        for (kind, value) in add_special_flags(tok, tcfg, &special) {
            m.set(format!("tokenizer.ggml.add_{kind}_token"), MetaValue::Bool(value));
        }
        let template = match tcfg.get("chat_template") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
            _ => jinja,
        };
        if let Some(t) = template {
            m.set(keys::TOKENIZER_CHAT_TEMPLATE, MetaValue::Str(t));
        }
        m.set(keys::TOKENIZER_ADD_SPACE_PREFIX, MetaValue::Bool(false));
        Ok(Vocab { n_tokens, metadata: m })
    }
}

/// `model.merges`: old form (strings) copied, new form (pairs) joined with a space after
/// replacing spaces inside each part by U+0120, as gguf-py does.
fn merges(model: &Value, path: &Path) -> Result<Vec<String>> {
    let list = model.get("merges").and_then(Value::as_array).ok_or_else(|| json_err(path, "no model.merges (required by the gemma4 tokenizer)"))?;
    list.iter()
        .map(|m| match m {
            Value::String(s) => Ok(s.clone()),
            Value::Array(pair) if pair.len() == 2 => {
                let part = |v: &Value| v.as_str().map(|s| s.replace(' ', "\u{120}"));
                match (part(&pair[0]), part(&pair[1])) {
                    (Some(a), Some(b)) => Ok(format!("{a} {b}")),
                    _ => Err(json_err(path, "merge pair is not two strings")),
                }
            }
            _ => Err(json_err(path, "merge is neither a string nor a pair")),
        })
        .collect()
}

/// `add_<kind>_token` flags as gguf-py derives them: from the post-processor template
/// (bos/eos/sep), then overridden by tokenizer_config's booleans. Order = discovery order.
fn add_special_flags(tok: &Value, tcfg: &Value, special: &[(&str, &str, u32)]) -> Vec<(String, bool)> {
    let mut flags: Vec<(String, bool)> = Vec::new();
    let mut set = |kind: &str, v: bool| {
        if let Some(e) = flags.iter_mut().find(|(k, _)| k == kind) {
            e.1 = v;
        } else {
            flags.push((kind.to_string(), v));
        }
    };
    let id_of = |kind: &str| special.iter().find(|s| s.0 == kind).map(|s| s.2);
    let mut pp = tok.get("post_processor");
    if let Some(Value::Array(procs)) = pp.and_then(|p| p.get("processors")) {
        pp = procs.iter().find(|p| p.get("type").and_then(Value::as_str) == Some("TemplateProcessing"));
    }
    if let Some(pp) = pp.filter(|p| p.get("type").and_then(Value::as_str) == Some("TemplateProcessing")) {
        let special_id = |entry: &Value| -> Option<u32> {
            let name = entry.get("SpecialToken")?.get("id")?.as_str()?;
            pp.get("special_tokens")?.get(name)?.get("ids")?.as_array()?.first()?.as_u64().map(|x| x as u32)
        };
        let single: Vec<Value> = pp.get("single").and_then(Value::as_array).cloned().unwrap_or_default();
        let pair: Vec<Value> = pp.get("pair").and_then(Value::as_array).cloned().unwrap_or_default();
        let first = if single.len() > 1 { single.first().and_then(special_id) } else { None };
        let last = if single.len() > 1 { single.last().and_then(special_id) } else { None };
        if let Some(f) = first {
            set("bos", Some(f) == id_of("bos") || Some(f) == id_of("cls"));
        }
        if let Some(l) = last {
            set("eos", Some(l) == id_of("eos") || Some(l) == id_of("sep"));
        }
        if !pair.is_empty() {
            let start = usize::from(first.is_some() && pair.first().and_then(special_id) == first);
            let stop = if last.is_some() && pair.last().and_then(special_id) == last { pair.len() - 1 } else { pair.len() };
            if start < stop {
                let mid = &pair[start..stop];
                if mid.len() > 1 {
                    if let Some(sep) = special_id(&mid[1]) {
                        set("sep", (Some(sep) == id_of("sep") || Some(sep) == id_of("eos")) && last.is_none());
                    }
                }
            }
        }
    }
    for kind in ["bos", "eos", "sep"] {
        if let Some(Value::Bool(b)) = tcfg.get(format!("add_{kind}_token")) {
            set(kind, *b);
        }
    }
    flags
}
