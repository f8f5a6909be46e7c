//! The seeded generator of rapha-host's synthetic datasets.
//!
//! It writes `<task>/{train,val,test}.jsonl` for the four shipped tasks (`summarisation`,
//! `icd-coding`, `fhir-extraction`, `trial-matching`), and `federation/<site>/…` for the
//! federated trial's hospitals, whose `fhir-extraction` notes differ by [`site`]; the files
//! are committed under `data/` and a test regenerates them and compares bytes. Every note is invented from the
//! vocabulary in [`concepts`]: no real patient text is used or needed.
//!
//! Two properties matter to users of the data:
//! - **Reproducible**: one seed, ChaCha8 with one stream per (task, split), no clock, no hash
//!   map iteration, and records serialised from structs so JSON keys keep declaration order.
//! - **Held out**: validation and test records use only conditions, drugs, symptoms,
//!   measurements and criterion wordings from [`concepts::Pool::HeldOut`], which training
//!   records never use, so a good score shows the task was learnt rather than memorised.
//!
//! Start at [`generate`].

pub mod concepts;
mod dice;
mod fhir_extraction;
mod icd_coding;
mod medication;
mod person;
pub mod site;
mod summarisation;
mod text;
mod trial_matching;

use concepts::Pool;
use dice::Dice;

/// The seed every committed file was generated from.
pub const SEED: u64 = 20_260_401;

/// Writes the JSON lines of one split of one task.
type Generator = fn(&mut Dice, Split) -> Vec<String>;

/// Each task id (also its folder name under `data/`) with its generator. The position in
/// this list selects the random streams, so appending keeps existing files unchanged.
const GENERATORS: [(&str, Generator); 4] = [
    ("summarisation", summarisation::generate),
    ("icd-coding", icd_coding::generate),
    ("fhir-extraction", fhir_extraction::generate),
    ("trial-matching", trial_matching::generate),
];

/// A dataset split: which file, how many records and which concept pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    pub fn count(self) -> usize {
        match self {
            Split::Train => 500,
            Split::Val | Split::Test => 100,
        }
    }

    pub fn pool(self) -> Pool {
        match self {
            Split::Train => Pool::Train,
            Split::Val | Split::Test => Pool::HeldOut,
        }
    }
}

/// One generated file: its path relative to the data folder and its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFile {
    pub path: String,
    pub contents: String,
}

/// Every file, generated from `seed`: the four tasks' twelve, then each federated site's
/// three; each holds one JSON record a line, every line ending in `\n`.
pub fn generate(seed: u64) -> Vec<DatasetFile> {
    let mut files = Vec::new();
    for (task_index, (task, generator)) in GENERATORS.iter().enumerate() {
        for (split_index, split) in Split::ALL.iter().enumerate() {
            let mut dice = Dice::new(seed, stream(task_index, split_index));
            files.push(file(format!("{task}/{}.jsonl", split.name()), generator(&mut dice, *split)));
        }
    }
    for (site_index, site) in site::sites().iter().enumerate() {
        for (split_index, split) in Split::ALL.iter().enumerate() {
            let mut dice = Dice::new(seed, stream(GENERATORS.len() + site_index, split_index));
            let count = match split {
                Split::Train => site.train,
                Split::Val => site.val,
                Split::Test => site.test,
            };
            let lines = fhir_extraction::generate_site(&mut dice, site, *split, count);
            files.push(file(format!("federation/{}/{}.jsonl", site.name, split.name()), lines));
        }
    }
    files
}

/// The random stream of one (task or site, split): appending tasks or sites keeps every
/// existing file unchanged.
fn stream(source_index: usize, split_index: usize) -> u64 {
    (source_index * Split::ALL.len() + split_index) as u64
}

fn file(path: String, lines: Vec<String>) -> DatasetFile {
    let mut contents = lines.join("\n");
    contents.push('\n');
    DatasetFile { path, contents }
}
