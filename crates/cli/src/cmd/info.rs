//! `dgemma info FILE.gguf`: header, metadata and tensor table, like gguf-dump.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file to describe.
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("{}: GGUF reader not built yet", args.file.display())
}
