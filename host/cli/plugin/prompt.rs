//! `rapha-host plugin prompt WASM --data JSONL [--line N] [--model M]`: what one record
//! becomes. The plugin's messages and target completion; with a model, the prompt and
//! completion tokens exactly as a run prepares them (`data::prepare_one`, the run's own
//! formatter: system message replaced, chat template applied, EOS appended), decoded with
//! their special tokens and counted.

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;
use rapha_task_host::Role;

use super::{host, load};
use crate::args::PromptArgs;
use crate::jsonl::{self, Reader};
use crate::stages::base::Base;
use crate::stages::data::{self, Record};

/// Print the prompt of `args.data`'s line `args.line`.
pub fn prompt(work: &Path, args: &PromptArgs) -> anyhow::Result<()> {
    let record = record_at(&args.data, args.line)?;
    let host = host(work)?;
    let mut plugin = load(&host, &args.wasm)?;
    let formatted = plugin
        .format_example(record.line, &record.json)
        .with_context(|| format!("{}:{}: the plugin cannot format record `{}`", args.data.display(), record.line, record.id))?;
    let mut out = format!("record `{}` ({}:{})\n", record.id, args.data.display(), record.line);
    for message in &formatted.messages {
        let role = match message.role {
            Role::System if args.system_prompt.is_some() => "system (replaced by --system-prompt)",
            Role::System => "system",
            Role::User => "user",
        };
        let _ = writeln!(out, "\n--- {role}\n{}", message.content);
    }
    let _ = writeln!(out, "\n--- target completion\n{}", formatted.completion);
    if let Some(model) = &args.model {
        let base = Base::load(model)?;
        let prepared = data::prepare_one(record, &mut plugin, &base.tokenizer, args.system_prompt.as_deref())?;
        let decode = |ids: &[u32]| base.tokenizer.decode(ids, false).context("cannot decode the tokens");
        let (prompt, completion) = (&prepared.example.prompt, &prepared.example.completion);
        let _ = writeln!(out, "\n--- prompt as `{}` sees it: {} tokens\n{}", base.name, prompt.len(), decode(prompt)?);
        let _ = writeln!(out, "\n--- completion it learns: {} tokens\n{}", completion.len(), decode(completion)?);
    }
    print!("{out}");
    Ok(())
}

/// The record on line `line` of `path`.
fn record_at(path: &Path, line: u64) -> anyhow::Result<Record> {
    let mut reader = Reader::open(path)?;
    while let Some(read) = reader.next_line()? {
        if read.number == line {
            let object = read.object(path)?;
            let id = jsonl::id_of(&object, path, &read)?;
            return Ok(Record { line, id, json: read.text });
        }
    }
    anyhow::bail!("{}: expected a record on line {line}, found fewer lines", path.display())
}
