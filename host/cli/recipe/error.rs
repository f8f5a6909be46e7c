//! Why a recipe was refused, and where.
//!
//! Every message starts with the recipe file as given and, when the problem has a place
//! in the file, its 1-based line and column (as compilers print them, so editors can jump
//! there): ``recipes/x.toml:12:6: `train.lr`: expected a positive finite number, found `-1` ``.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A 1-based line and column (in characters) in the recipe file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// `file` or `file:line:column`, the prefix of every message.
struct At<'a>(&'a PathBuf, &'a Option<Position>);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(Position { line, column }) => write!(f, "{}:{line}:{column}", self.0.display()),
            None => write!(f, "{}", self.0.display()),
        }
    }
}

/// A recipe that cannot be read, parsed or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    /// The file could not be read.
    #[error("{}: cannot read the recipe", .file.display())]
    Read {
        /// The recipe as given.
        file: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not UTF-8 text (TOML is UTF-8 by definition).
    #[error("{}: expected UTF-8 text, found a byte that is not UTF-8", At(.file, .position))]
    NotText {
        /// The recipe as given.
        file: PathBuf,
        /// Where the first such byte is.
        position: Option<Position>,
    },
    /// The file is not valid TOML: the toml crate's message at its position.
    #[error("{}: {message}", At(.file, .position))]
    Syntax {
        /// The recipe as given.
        file: PathBuf,
        /// Where the parser stopped, when it says.
        position: Option<Position>,
        /// The parser's message, on one line.
        message: String,
    },
    /// A key or table the schema does not have (a typo would otherwise be a silent default).
    #[error("{}: unknown {} `{key}`: expected {}", At(.file, .position), what(.key), one_of(.known))]
    UnknownKey {
        /// The recipe as given.
        file: PathBuf,
        /// Where the key is written.
        position: Option<Position>,
        /// The full key, such as `train.lrate`.
        key: String,
        /// The keys its table does have, in schema order.
        known: Vec<&'static str>,
    },
    /// A required key is absent.
    #[error("{}: missing key `{key}`: expected {expected}", At(.file, .position))]
    MissingKey {
        /// The recipe as given.
        file: PathBuf,
        /// The header of the key's table when the table is there.
        position: Option<Position>,
        /// The full key, such as `model.path`.
        key: String,
        /// What the key is for.
        expected: String,
    },
    /// A value of the wrong type or outside its range, or one the run cannot use.
    #[error("{}: `{key}`: expected {expected}, found {found}", At(.file, .position))]
    Invalid {
        /// The recipe as given.
        file: PathBuf,
        /// Where the value is written, when it is.
        position: Option<Position>,
        /// The full key, such as `lora.rank`.
        key: String,
        /// What the key accepts.
        expected: String,
        /// What the recipe holds, values in backticks.
        found: String,
    },
}

/// A top-level unknown name is a table (`[trian]`), a nested one a key (`train.lrate`).
fn what(key: &str) -> &'static str {
    if key.contains('.') { "key" } else { "table" }
}

fn one_of(known: &[&str]) -> String {
    let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    format!("one of {}", names.join(", "))
}
