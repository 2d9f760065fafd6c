//! Special-token handling as llama.cpp does it at load and before BPE.

use crate::token_type::TokenType;

/// Token texts llama.cpp recognises at load as end-of-generation (its EOT/EOG auto-detection
/// plus the Gemma 4 branch's `<eos>`, `<turn|>` and `<|tool_response>`) and forces to CONTROL.
/// `</s>` is left out: llama.cpp drops it from the set when `<|tool_response>` exists.
pub const END_OF_GENERATION_TEXTS: [&str; 13] = [
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
];

/// Fill-in-the-middle token texts llama.cpp auto-detects and forces to CONTROL as well.
pub const FIM_TEXTS: [&str; 26] = [
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
];

/// Piece of the input after special-token partitioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// Raw text `text[start..end]` still to be tokenized.
    Text(usize, usize),
    /// A special token matched in the text.
    Token(u32),
}

/// Whether a token of this type is matched verbatim in the input. USER_DEFINED tokens always
/// are; CONTROL and UNKNOWN only when special tokens are parsed (llama.cpp's rule).
pub fn matched_in_text(t: TokenType, parse_special: bool) -> bool {
    match t {
        TokenType::UserDefined => true,
        TokenType::Control | TokenType::Unknown => parse_special,
        _ => false,
    }
}

/// Splits `text` at special tokens the way llama.cpp's `tokenizer_st_partition` does: the
/// candidates are tried longest text first (`specials` must be in that order), each over every
/// remaining text fragment, leftmost occurrence first. `out` is cleared and refilled.
pub fn partition(text: &str, specials: &[(u32, &str)], out: &mut Vec<Fragment>, scratch: &mut Vec<Fragment>) {
    out.clear();
    if !text.is_empty() {
        out.push(Fragment::Text(0, text.len()));
    }
    for &(id, needle) in specials {
        if needle.is_empty() || !out.iter().any(|f| matches!(f, Fragment::Text(..))) {
            continue;
        }
        scratch.clear();
        for &frag in out.iter() {
            let Fragment::Text(start, end) = frag else {
                scratch.push(frag);
                continue;
            };
            let mut pos = start;
            while let Some(found) = text[pos..end].find(needle) {
                let at = pos + found;
                if at > pos {
                    scratch.push(Fragment::Text(pos, at));
                }
                scratch.push(Fragment::Token(id));
                pos = at + needle.len();
            }
            if pos < end {
                scratch.push(Fragment::Text(pos, end));
            }
        }
        std::mem::swap(out, scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_special_wins_and_text_between_is_kept() {
        let specials = [(7, "<start>"), (9, "<s>")];
        let mut out = vec![];
        let mut scratch = vec![];
        let text = "a<start>b<s><start>";
        partition(text, &specials, &mut out, &mut scratch);
        assert_eq!(
            out,
            vec![Fragment::Text(0, 1), Fragment::Token(7), Fragment::Text(8, 9), Fragment::Token(9), Fragment::Token(7)]
        );
        partition("", &specials, &mut out, &mut scratch);
        assert!(out.is_empty());
    }
}
