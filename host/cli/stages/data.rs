//! The run's datasets: records read line by line from JSONL, each checked (a JSON
//! object with a unique id), then formatted by the task plugin and tokenized with
//! the model's chat template. A record whose text an earlier split holds under another id
//! stops the run unless the recipe allows overlaps. A bad line, a record the plugin rejects,
//! or one whose target breaks the plugin's own output schema or `validate`, stops the run,
//! naming its file and line, unless the recipe's `max_rejected` allows skipping it; every
//! skip is written to the audit log (by file, line and reason, never content).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rapha_engine::{Example, Message, Tokenizer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use rapha_sandbox::{AuditLog, Decision, Policy, VerbatimIndex};
use rapha_task_host::{FormattedExample, Role, TaskPlugin};

use crate::jsonl::{self, Reader};

/// Which split a dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Trains the adapter.
    Train,
    /// Drives evaluation during training and early stopping.
    Val,
    /// The final base-vs-adapter comparison.
    Test,
    /// Records a command answers outside a run (`predict`).
    Input,
}

impl Split {
    /// The recipe's name for it, also its role in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
            Split::Input => "input",
        }
    }
}

/// One record as read: where it is, its id and its JSON text.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line in its file.
    pub line: u64,
    /// Its `id`.
    pub id: String,
    /// The line, as given to the plugin.
    pub json: String,
}

/// A record the plugin formatted, tokenized. Its texts went into the gate's verbatim index as
/// it passed; only the tokens and the record's own line stay.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The record.
    pub record: Record,
    /// Prompt and completion tokens.
    pub example: Example,
}

/// A dataset file, read, formatted and tokenized.
#[derive(Debug)]
pub struct Dataset {
    /// Which split.
    pub split: Split,
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of the whole file.
    pub sha256: String,
    /// The records kept, in file order.
    pub records: Vec<Prepared>,
}

/// The recipe's allowance of skipped lines and records, shared by all splits.
pub struct Rejections<'a> {
    allowed: u64,
    used: u64,
    audit: &'a AuditLog,
}

impl<'a> Rejections<'a> {
    /// Allow `allowed` skips in total, each recorded in `audit`.
    pub fn new(allowed: u64, audit: &'a AuditLog) -> Self {
        Rejections { allowed, used: 0, audit }
    }

    /// How many were skipped.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Skip the line `file:line` for `error` if the allowance is not used up; otherwise
    /// return the error, pointing at the allowance.
    fn skip(&mut self, file: &Path, line: u64, error: anyhow::Error) -> anyhow::Result<()> {
        if self.used >= self.allowed {
            return Err(anyhow::anyhow!(
                "{error:#}; stopping: the recipe's `data.max_rejected` is {} and {} lines or records were skipped before",
                self.allowed,
                self.used
            ));
        }
        self.used += 1;
        let subject = format!("{}:{line}", file.display());
        tracing::warn!(%subject, "skipped ({} of {} allowed): {error:#}", self.used, self.allowed);
        self.audit
            .record("skip-record", &subject, Decision::Noted, &format!("{error:#}"))
            .context("cannot record a skipped record")?;
        Ok(())
    }
}

/// What earlier records held: their ids, so a record cannot be in two splits, and their
/// texts, so that unless the recipe allows it a validation or test record cannot be a
/// training record (or each other) under another id.
#[derive(Default)]
pub struct Seen {
    ids: HashMap<String, (Split, u64)>,
    texts: HashMap<[u8; 32], (Split, u64)>,
    /// Whether a text may recur in another split (`data.allow_overlap`).
    allow_overlap: bool,
    /// Records whose text an earlier split holds.
    pub overlaps: u64,
}

impl Seen {
    /// Nothing seen yet; `allow_overlap` as the recipe's `data.allow_overlap`.
    pub fn new(allow_overlap: bool) -> Seen {
        Seen { allow_overlap, ..Seen::default() }
    }

    /// Note the text of the record at `path:line` of `split`; an error when an earlier
    /// split holds the same text and overlaps are not allowed.
    fn text(&mut self, split: Split, path: &Path, line: u64, object: &Map<String, Value>) -> anyhow::Result<()> {
        let hash = text_hash(object);
        match self.texts.get(&hash) {
            Some((other, at)) if *other != split => {
                if !self.allow_overlap {
                    bail!(
                        "{}:{line}: the record's text is also in {} at line {at} (under another id), compared after \
                         lower-casing and collapsing white space: expected splits apart, since evaluation on trained \
                         notes is not evaluation (`data.allow_overlap = true` runs anyway)",
                        path.display(),
                        other.name()
                    );
                }
                self.overlaps += 1;
            }
            Some(_) => {}
            None => {
                self.texts.insert(hash, (split, line));
            }
        }
        Ok(())
    }
}

/// sha256 of a record's values but its `id`: keys sorted, every string lower-cased with its
/// white space collapsed, so that re-exported or re-indented copies of a note compare equal.
fn text_hash(object: &Map<String, Value>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    write_fields(object.iter().filter(|(key, _)| *key != "id"), &mut hasher);
    hasher.finalize().into()
}

/// An object's `fields` into `hasher`, in the order of their keys.
fn write_fields<'a>(fields: impl Iterator<Item = (&'a String, &'a Value)>, hasher: &mut Sha256) {
    let mut fields: Vec<(&String, &Value)> = fields.collect();
    fields.sort_by_key(|(key, _)| *key);
    hasher.update(b"{");
    for (key, value) in fields {
        hasher.update(key.as_bytes());
        hasher.update(b":");
        write_value(value, hasher);
    }
    hasher.update(b"}");
}

/// One value into `hasher`, strings normalised.
fn write_value(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::String(text) => {
            hasher.update(b"s");
            for word in text.split_whitespace() {
                hasher.update(word.to_lowercase().as_bytes());
                hasher.update(b" ");
            }
        }
        Value::Array(items) => {
            hasher.update(b"[");
            items.iter().for_each(|item| write_value(item, hasher));
            hasher.update(b"]");
        }
        Value::Object(fields) => write_fields(fields.iter(), hasher),
        other => hasher.update(other.to_string().as_bytes()),
    }
}

/// How records become token sequences: the plugin formats, the recipe may replace the
/// system message, the model's chat template and tokenizer encode.
pub struct Formatter<'a> {
    /// The task plugin.
    pub plugin: &'a mut TaskPlugin,
    /// The model's tokenizer, with its chat template.
    pub tokenizer: &'a Tokenizer,
    /// The recipe's `plugin.system_prompt`, if set.
    pub system_prompt: Option<&'a str>,
    /// Every record, prompt and completion read, as runs of words: what no export may copy.
    pub verbatim: &'a mut VerbatimIndex,
}

/// Read `path` as `split`: every line a JSON object with an `id` unique across the run's
/// splits, formatted into a prompt and completion and tokenized. At most `limit` records
/// are kept (the rest of the file is still read, for its hash and its checks).
pub fn read(
    split: Split,
    path: &Path,
    limit: Option<usize>,
    formatter: &mut Formatter<'_>,
    seen: &mut Seen,
    rejections: &mut Rejections<'_>,
) -> anyhow::Result<Dataset> {
    let mut reader = Reader::open(path)?;
    let mut records = Vec::new();
    while let Some(line) = reader.next_line()? {
        let object = match line.object(path) {
            Ok(object) => object,
            Err(error) => {
                rejections.skip(path, line.number, error)?;
                continue;
            }
        };
        let id = match jsonl::id_of(&object, path, &line) {
            Ok(id) => id,
            Err(error) => {
                rejections.skip(path, line.number, error)?;
                continue;
            }
        };
        if let Some((other, at)) = seen.ids.insert(id.clone(), (split, line.number)) {
            bail!(
                "{}:{}: duplicate record id `{id}`: expected ids unique across train, val and test, \
                 found it already in {} at line {at}",
                path.display(),
                line.number,
                other.name()
            );
        }
        if limit.is_some_and(|limit| records.len() >= limit) {
            continue;
        }
        seen.text(split, path, line.number, &object)?;
        let record = Record { line: line.number, id, json: line.text };
        match formatter.prepare(record) {
            Ok(prepared) => records.push(prepared),
            Err(PrepareError::Rejected(error)) => {
                rejections.skip(path, line.number, error.context(format!("{}:{}", path.display(), line.number)))?;
            }
            Err(PrepareError::Fatal(error)) => {
                return Err(error.context(format!("{}:{}", path.display(), line.number)));
            }
        }
    }
    let sha256 = reader.finish()?;
    if records.is_empty() {
        bail!("{}: expected at least one usable record, found none", path.display());
    }
    Ok(Dataset { split, path: path.to_owned(), sha256, records })
}

/// Records a command answers outside a run (`predict`, `eval`): formatted by `plugin` (its
/// system message replaced by `system_prompt` when given) and tokenized; any bad line is an
/// error naming it, ids must be unique, texts may repeat.
pub fn read_input(
    path: &Path,
    plugin: &mut TaskPlugin,
    tokenizer: &Tokenizer,
    system_prompt: Option<&str>,
    audit: &AuditLog,
) -> anyhow::Result<Dataset> {
    // What the gate would need to refuse copies of; nothing read here reaches the gate.
    let mut verbatim = VerbatimIndex::new(Policy::new().verbatim_words, []);
    let mut formatter = Formatter { plugin, tokenizer, system_prompt, verbatim: &mut verbatim };
    read(Split::Input, path, None, &mut formatter, &mut Seen::new(true), &mut Rejections::new(0, audit))
}

/// One record formatted by `plugin` and tokenized exactly as a run prepares it (its system
/// message replaced by `system_prompt` when given): what `plugin prompt` shows.
pub fn prepare_one(
    record: Record,
    plugin: &mut TaskPlugin,
    tokenizer: &Tokenizer,
    system_prompt: Option<&str>,
) -> anyhow::Result<Prepared> {
    let mut verbatim = VerbatimIndex::new(Policy::new().verbatim_words, []);
    let mut formatter = Formatter { plugin, tokenizer, system_prompt, verbatim: &mut verbatim };
    formatter.prepare(record).map_err(|error| match error {
        PrepareError::Rejected(error) | PrepareError::Fatal(error) => error,
    })
}

/// Why a record could not be prepared.
enum PrepareError {
    /// The plugin refused the record (its own `task-error`): skippable.
    Rejected(anyhow::Error),
    /// The plugin was stopped or broke its contract, or tokenization failed: not skippable.
    Fatal(anyhow::Error),
}

impl Formatter<'_> {
    fn prepare(&mut self, record: Record) -> Result<Prepared, PrepareError> {
        let mut formatted = self.plugin.format_example(record.line, &record.json).map_err(|error| match error {
            rapha_task_host::Error::Guest { .. } => PrepareError::Rejected(
                anyhow::Error::new(error).context(format!("the plugin rejected record `{}`", record.id)),
            ),
            other => PrepareError::Fatal(other.into()),
        })?;
        self.check_target(&record, &formatted.completion)?;
        if let Some(system) = self.system_prompt {
            let message = rapha_task_host::Message { role: Role::System, content: system.to_owned() };
            match formatted.messages.first_mut() {
                Some(first) if first.role == Role::System => *first = message,
                _ => formatted.messages.insert(0, message),
            }
        }
        let tokenizer = self.tokenizer;
        let fatal = |error: rapha_engine::Error| PrepareError::Fatal(error.into());
        let prompt = tokenizer.encode_chat(&messages(&formatted), true).map_err(fatal)?;
        let mut completion = tokenizer.encode(&formatted.completion, false).map_err(fatal)?;
        let eos = *tokenizer.eos_token_ids().first().ok_or_else(|| {
            PrepareError::Fatal(anyhow::anyhow!("the model's tokenizer declares no end-of-sequence token"))
        })?;
        completion.push(eos);
        self.verbatim.add(&record.json);
        self.verbatim.add(&formatted.completion);
        for message in &formatted.messages {
            self.verbatim.add(&message.content);
        }
        Ok(Prepared { record, example: Example { prompt, completion } })
    }
}

impl Formatter<'_> {
    /// The target must be a perfect answer by the plugin's own contract: its output schema,
    /// then its `validate`. A target that breaks either would teach the model what the plugin
    /// itself refuses; the record is rejected like any other (its reason, which may quote the
    /// record, stays in the plugin's log).
    fn check_target(&mut self, record: &Record, target: &str) -> Result<(), PrepareError> {
        if let Err(violation) = self.plugin.validate_output(target) {
            return Err(PrepareError::Rejected(anyhow::anyhow!(
                "the plugin's target completion for record `{}` breaks its own output schema {violation}",
                record.id
            )));
        }
        match self.plugin.validate(record.line, target) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(violation)) => Err(PrepareError::Rejected(anyhow::anyhow!(
                "the plugin's `validate` rejects its own target completion for record `{}` at `{}` (the reason is in the plugin's log)",
                record.id,
                violation.path
            ))),
            Err(error) => Err(PrepareError::Fatal(error.into())),
        }
    }
}

/// The plugin's prompt messages in the chat template's terms.
fn messages(formatted: &FormattedExample) -> Vec<Message> {
    formatted
        .messages
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::System => "system",
                Role::User => "user",
            };
            Message::new(role, message.content.clone())
        })
        .collect()
}
