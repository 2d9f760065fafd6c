//! Output file types (`--type`) and what each means: the llama file type written to
//! `general.file_type`, the default tensor type, and which tool's rules produce it.

use std::fmt;
use std::str::FromStr;

use dgemma_quant::GgmlType;

use crate::error::ConvertError;

/// A whole-file output type, as `convert --type` / `quantize TYPE` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum OutType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_K_M,
    Q5_K_M,
    Q6_K,
}

impl OutType {
    /// Every supported type, in the order `--estimate` prints them.
    pub const ALL: [OutType; 8] = [
        Self::F32, Self::F16, Self::BF16, Self::Q8_0, Self::Q4_0, Self::Q4_K_M, Self::Q5_K_M,
        Self::Q6_K,
    ];

    /// `general.file_type` (llama_ftype) value (../shared/spec/gguf.md §1.5).
    pub fn file_type(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q8_0 => 7,
            Self::Q4_K_M => 15,
            Self::Q5_K_M => 17,
            Self::Q6_K => 18,
            Self::BF16 => 32,
        }
    }

    /// The mixture's default tensor type (llama.cpp `llama_ftype_get_default_type`).
    pub fn default_type(self) -> GgmlType {
        match self {
            Self::F32 => GgmlType::F32,
            Self::F16 => GgmlType::F16,
            Self::BF16 => GgmlType::BF16,
            Self::Q8_0 => GgmlType::Q8_0,
            Self::Q4_0 => GgmlType::Q4_0,
            Self::Q4_K_M => GgmlType::Q4_K,
            Self::Q5_K_M => GgmlType::Q5_K,
            Self::Q6_K => GgmlType::Q6_K,
        }
    }

    /// Whether llama.cpp's HF converter writes this type itself (`--outtype`); the others are
    /// made by llama-quantize from a BF16 file, and dgemma reproduces that file (tensor order,
    /// KV order, mixture) when converting directly.
    pub fn is_converter_type(self) -> bool {
        matches!(self, Self::F32 | Self::F16 | Self::BF16 | Self::Q8_0)
    }

    /// Lower-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::Q8_0 => "q8_0",
            Self::Q4_0 => "q4_0",
            Self::Q4_K_M => "q4_k_m",
            Self::Q5_K_M => "q5_k_m",
            Self::Q6_K => "q6_k",
        }
    }
}

impl fmt::Display for OutType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}

impl FromStr for OutType {
    type Err = ConvertError;

    /// Case-insensitive; accepts llama-quantize's spellings (`Q4_K_M`) too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        OutType::ALL
            .into_iter()
            .find(|t| t.name() == lower)
            .ok_or_else(|| ConvertError::UnknownType(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_both_spellings() {
        for t in OutType::ALL {
            assert_eq!(t.name().parse::<OutType>().unwrap(), t);
            assert_eq!(t.to_string().parse::<OutType>().unwrap(), t);
        }
        assert!("q3_k_m".parse::<OutType>().is_err());
    }
}
