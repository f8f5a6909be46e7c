//! `rapha-datagen --out <dir>`: writes the synthetic datasets under `<dir>/<task>/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let out = parse_out(std::env::args().skip(1))?;
    for file in rapha_datagen::generate(rapha_datagen::SEED) {
        let path = out.join(&file.path);
        let folder = path
            .parent()
            .expect("dataset paths are `<task>/<split>.jsonl`");
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create `{}`", folder.display()))?;
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        println!(
            "wrote {} ({} records)",
            path.display(),
            file.contents.lines().count()
        );
    }
    Ok(())
}

fn parse_out(mut args: impl Iterator<Item = String>) -> anyhow::Result<PathBuf> {
    match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--out"), Some(dir), None) => Ok(PathBuf::from(dir)),
        _ => bail!("usage: rapha-datagen --out <dir>: expected exactly `--out` and a folder"),
    }
}
