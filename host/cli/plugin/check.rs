//! `rapha-host plugin check`: every export of a plugin on every record of a dataset, then the
//! same calls on a fresh instance in reverse order, which must return the same values.
//!
//! Records stream from the file, twice. What is kept per record is its place in the file, its
//! score (which `aggregate` takes as one list, as the contract says) and a digest of each call's
//! result, so memory grows with the number of records by a few dozen bytes each, not with
//! their text: a hospital's 100,000 notes check in the memory that 100 take.

use std::path::Path;

use anyhow::{Context, bail};
use rapha_task_host::{CacheStatus, Call, Denials, ExampleScore, TaskPlugin};
use sha2::{Digest as _, Sha256};

use super::{duration, host, load, mebibytes, with_last_words};
use crate::args::CheckArgs;
use crate::jsonl::{Line, Reader, Rereader};

/// At most this many problems are listed; the count covers them all.
const MAX_LISTED_PROBLEMS: usize = 50;

/// How close to 1 a target's reward must be to count as perfect (rewards are computed in
/// floating point; a ratio such as 3/3 may not be exactly 1 in every language).
const PERFECT_REWARD_TOLERANCE: f64 = 1e-9;

/// Digests of what each call returned for one record, in the order the calls are made, so a
/// second pass can say which call differs without keeping the results themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Digests([u64; 5]);

/// What each part of [`Digests`] covers.
const PARTS: [&str; 5] =
    ["`format-example` result", "schema check of the target", "`validate` result", "`score` result", "`reward`"];

/// A record the warm pass called every export on.
struct Kept {
    /// Its index among the records (what the plugin's randomness is seeded with).
    index: u64,
    /// Its line number and where the line starts, to read it again.
    number: u64,
    offset: u64,
    digests: Digests,
}

/// Problems found, each tied to a line of the dataset when it has one; the first
/// [`MAX_LISTED_PROBLEMS`] kept in full, the rest counted.
struct Problems<'a> {
    data: &'a Path,
    listed: Vec<String>,
    count: usize,
}

impl Problems<'_> {
    fn at(&mut self, number: u64, message: impl std::fmt::Display) {
        self.push(format!("{}:{number}: {message}", self.data.display()));
    }

    fn general(&mut self, message: impl std::fmt::Display) {
        self.push(format!("{}: {message}", self.data.display()));
    }

    fn push(&mut self, problem: String) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(problem);
        }
    }
}

/// One record's calls: the digests of their results, and the score and the checks of the
/// target that the warm pass reports on.
struct Outcome {
    digests: Digests,
    score: ExampleScore,
    /// The problems of the target (schema, `validate`, reward); empty when it is perfect.
    flaws: Vec<String>,
}

/// Every per-record call for `line` (record `index`); the first failure as an error.
fn calls(plugin: &mut TaskPlugin, index: u64, line: &Line) -> anyhow::Result<Outcome> {
    let formatted = plugin.format_example(index, &line.text)?;
    let target = &formatted.completion;
    let schema = plugin.validate_output(target);
    let validate = plugin.validate(index, target)?;
    let score = plugin.score(index, target, &line.text)?;
    let reward = plugin.reward(index, target, &line.text)?;
    let digests = Digests([
        digest(&formatted),
        digest(&schema),
        digest(&validate),
        digest(&score),
        reward.to_bits(),
    ]);
    let mut flaws = Vec::new();
    if let Err(violation) = &schema {
        flaws.push(format!("record {index}: the target completion breaks the output schema {violation}"));
    }
    if let Err(violation) = &validate {
        flaws.push(format!(
            "record {index}: `validate` rejects the target completion at `{}` (reason in `{}`)",
            violation.path,
            plugin.log_path().display()
        ));
    }
    if (reward - 1.0).abs() > PERFECT_REWARD_TOLERANCE {
        flaws.push(format!("record {index}: the target completion is not perfect: expected reward 1, found {reward}"));
    }
    Ok(Outcome { digests, score, flaws })
}

/// 64 bits of the sha256 of `value`'s debug form (which writes every float exactly).
fn digest(value: &impl std::fmt::Debug) -> u64 {
    let hash = Sha256::digest(format!("{value:?}").as_bytes());
    u64::from_le_bytes(hash[..8].try_into().expect("a sha256 has 32 bytes"))
}

pub fn check(work: &Path, args: &CheckArgs) -> anyhow::Result<()> {
    let host = host(work)?;
    let mut warm = load(&host, &args.wasm)?;
    let info = warm.info().clone();
    let mut problems = Problems { data: &args.data, listed: Vec::new(), count: 0 };

    // The warm pass: one instance (already used by `info`) serves every record in order.
    let mut reader = Reader::open(&args.data)?;
    let mut kept: Vec<Kept> = Vec::new();
    let mut scores: Vec<ExampleScore> = Vec::new();
    let (mut records, mut perfect) = (0u64, 0u64);
    while let Some(line) = reader.next_line()? {
        let index = records;
        records += 1;
        match calls(&mut warm, index, &line) {
            Ok(outcome) => {
                perfect += u64::from(outcome.flaws.is_empty());
                for flaw in &outcome.flaws {
                    problems.at(line.number, flaw);
                }
                kept.push(Kept { index, number: line.number, offset: line.offset, digests: outcome.digests });
                scores.push(outcome.score);
            }
            Err(error) => problems.at(line.number, with_last_words(&warm, &error)),
        }
    }
    if records == 0 {
        bail!("`{}`: expected at least one JSON line, found none", args.data.display());
    }
    let aggregate = match warm.aggregate(&scores) {
        Ok(metrics) => Some(metrics),
        Err(error) => {
            problems.general(format!("{error:#}"));
            None
        }
    };

    // The determinism pass: a fresh instance, records in reverse order, so that any state
    // a warm instance carries from record to record shows as a difference.
    let mut fresh = warm.fresh().context("cannot make a fresh instance")?;
    let mut again = Rereader::open(&args.data)?;
    let mut same = 0;
    for record in kept.iter().rev() {
        let line = again.line(record.number, record.offset)?;
        let index = record.index;
        match calls(&mut fresh, index, &line) {
            Ok(outcome) if outcome.digests == record.digests => same += 1,
            Ok(outcome) => problems.at(
                line.number,
                format!(
                    "record {index}: not deterministic: a fresh instance returned a different {}",
                    difference(record.digests, outcome.digests)
                ),
            ),
            Err(error) => problems.at(
                line.number,
                format!("record {index}: not deterministic: the warm instance succeeded, a fresh one failed: {error:#}"),
            ),
        }
    }
    if let Some(expected) = &aggregate {
        match fresh.aggregate(&scores) {
            Ok(metrics) if &metrics == expected => {}
            Ok(_) => problems.general("not deterministic: `aggregate` differs between the warm and a fresh instance"),
            Err(error) => problems.general(format!("not deterministic: a fresh instance failed `aggregate`: {error:#}")),
        }
    }

    println!("plugin `{}` {} (rapha:task@{}) from `{}`", info.id, info.version, warm.wit_version(), args.wasm.display());
    println!("  compiled component: {}", cache_words(warm.cache_status()));
    println!("  output schema: a valid JSON Schema (draft 2020-12)");
    println!("  records: {records} in `{}`", args.data.display());
    let succeeded = kept.len();
    println!("  every export called: {succeeded} of {records} records without error");
    println!("  perfect targets (schema, `validate`, reward 1): {perfect} of {succeeded}");
    println!("  deterministic (fresh instance, reverse order): {same} of {succeeded}");
    if let Some(metrics) = &aggregate {
        println!("  aggregate over the targets:");
        let width = metrics.iter().map(|metric| metric.name.len()).max().unwrap_or(0);
        for metric in metrics {
            println!("    {:width$}  {:.6}", metric.name, metric.value);
        }
    }
    let denials = warm.denials().merged(&fresh.denials());
    print_denials(&denials);
    for problem in denied_calls(&denials) {
        problems.general(problem);
    }
    print_costs(&warm);
    println!("  plugin log: `{}`", warm.log_path().display());

    if problems.count == 0 {
        println!("check passed");
        return Ok(());
    }
    for problem in &problems.listed {
        println!("problem: {problem}");
    }
    if problems.count > problems.listed.len() {
        println!("… and {} more problems", problems.count - problems.listed.len());
    }
    let count = problems.count;
    bail!(
        "check of plugin `{}` failed: {count} problem{} with `{}`",
        info.id,
        if count == 1 { "" } else { "s" },
        args.data.display()
    )
}

/// Which call's result differs, in the order the calls were made.
fn difference(expected: Digests, found: Digests) -> &'static str {
    let part = expected.0.iter().zip(found.0).position(|(a, b)| *a != b).unwrap_or(PARTS.len() - 1);
    PARTS[part]
}

fn cache_words(status: CacheStatus) -> &'static str {
    match status {
        CacheStatus::Hit => "taken from the cache",
        CacheStatus::Miss => "compiled and cached",
        CacheStatus::Rejected => "cache file rejected (checksum or version); compiled again",
        _ => "compiled",
    }
}

fn print_denials(denials: &Denials) {
    if denials.is_empty() {
        println!("  denied attempts: none");
        return;
    }
    println!("  denied attempts (the plugin got nothing):");
    for (attempt, count) in denials.iter() {
        println!("    {}: {count}", attempt.name());
    }
}

/// A problem for each kind of denied attempt made inside a call, where it was first made: a
/// plugin that reads the clock, a file, the environment or a socket expects something the
/// host will never give, so it is broken by the contract even when its calls succeed.
fn denied_calls(denials: &Denials) -> Vec<String> {
    denials
        .in_calls()
        .map(|(attempt, at)| {
            format!(
                "the plugin called `{}` in {at} and got {}: a plugin is given no files, clock, network or \
                 environment, so no call of this kind can do what it expects",
                attempt.name(),
                attempt.outcome()
            )
        })
        .collect()
}

fn print_costs(plugin: &TaskPlugin) {
    println!("  per call (warm instance):");
    println!(
        "    {:16} {:>7} {:>11} {:>11} {:>12} {:>12}",
        "call", "calls", "mean time", "max time", "max fuel", "peak memory"
    );
    for call in Call::ALL {
        let Some(summary) = plugin.summary(call) else { continue };
        println!(
            "    {:16} {:>7} {:>11} {:>11} {:>12} {:>12}",
            call.name(),
            summary.calls,
            duration(summary.mean_time()),
            duration(summary.max_time),
            summary.max_fuel,
            mebibytes(summary.peak_memory_bytes)
        );
    }
}
