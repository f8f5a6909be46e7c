//! The plugin contract this binary hosts (the WIT package `rapha:task`), compiled in, and
//! `rapha-host plugin wit`, which hands it to authors building outside this repository.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, anyhow};
use wit_bindgen_core::wit_parser::{Resolve, SourceMap, WorldId};

use crate::args::WitArgs;

/// The WIT package, file by file, as compiled in.
pub(super) const WIT_FILES: &[(&str, &str)] = &[
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("task.wit", include_str!("../../../wit/task.wit")),
];

/// The world a plugin implements.
pub(super) const WORLD: &str = "task-plugin";

pub(super) fn wit(args: &WitArgs) -> anyhow::Result<()> {
    let Some(dir) = &args.out else {
        for (name, text) in WIT_FILES {
            println!("// ---- {name} ----");
            print!("{text}");
        }
        return Ok(());
    };
    let files = WIT_FILES.iter().map(|(name, text)| (*name, text.as_bytes()));
    write_new_files(dir, files)?;
    println!(
        "wrote {} files of `rapha:task@{}` to `{}`",
        WIT_FILES.len(),
        rapha_task_host::SUPPORTED_WIT,
        dir.display()
    );
    Ok(())
}

/// The contract parsed, and its plugin world.
pub(super) fn resolve() -> anyhow::Result<(Resolve, WorldId)> {
    let mut map = SourceMap::new();
    for (name, text) in WIT_FILES {
        map.push_str(name, *text);
    }
    let group = map.parse().map_err(|(_, error)| anyhow!("the compiled-in WIT does not parse: {error}"))?;
    let mut resolve = Resolve::default();
    let package = resolve.push_group(group).context("the compiled-in WIT does not resolve")?;
    let world = resolve.select_world(&[package], Some(WORLD))?;
    Ok((resolve, world))
}

/// Write each `(relative path, bytes)` under `dir`, creating folders as needed. An
/// existing file is never replaced: the author's work is not ours to overwrite.
pub(super) fn write_new_files<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> anyhow::Result<()> {
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create `{}` (an existing file is never replaced)", path.display()))?;
        file.write_all(bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}
