//! Subcommands, one module each.

pub mod convert;
pub mod devices;
pub mod info;
pub mod logits;
pub mod run;
pub mod quantize;
pub mod tokenize;
