//! Subcommands, one module each.

pub mod bench;
pub mod convert;
pub mod devices;
pub mod info;
pub mod kld;
pub mod logits;
pub mod run;
pub mod quant_error;
pub mod quantize;
pub mod tokenize;
