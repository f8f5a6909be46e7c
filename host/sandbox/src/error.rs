//! Errors of the egress gate and the lockdown.

use std::path::PathBuf;

/// Result with the sandbox's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the gate refused a file. Each reason is specific enough for the operator
/// to see what to change, and never quotes the refused content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The name is not a plain file name of the allowed form.
    #[error("name `{name}`: {reason}")]
    BadName {
        /// The name as given (only its shape is reported back).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The extension is not on the allow-list.
    #[error("file type `{0}` is not allowed: expected .safetensors, .json or .txt")]
    ForbiddenType(String),
    /// The file is larger than its type's cap.
    #[error("{bytes} bytes exceeds the cap of {cap} bytes for this file type")]
    TooLarge {
        /// The file's size.
        bytes: u64,
        /// The cap.
        cap: u64,
    },
    /// The export would exceed the cap on all exported bytes together.
    #[error("the export would reach {bytes} bytes, over the total cap of {cap}")]
    TotalTooLarge {
        /// All bytes with this file.
        bytes: u64,
        /// The cap.
        cap: u64,
    },
    /// A file of that name already exists (or something else stands there).
    #[error("`{0}` already exists in the export folder")]
    Exists(String),
    /// The content failed the checks for its type.
    #[error("content: {0}")]
    Content(String),
    /// The export folder holds an entry the gate did not write.
    #[error("foreign entry `{name}` in the export folder: {what}")]
    Foreign {
        /// The entry's name.
        name: String,
        /// What it is (symlink, hard link, unlisted file, …).
        what: String,
    },
}

/// Everything that can go wrong in the sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gate refused a file; nothing was written.
    #[error("export of `{name}` refused: {refusal}")]
    Refused {
        /// The file name asked for.
        name: String,
        /// Why.
        refusal: Refusal,
    },
    /// A file system operation failed.
    #[error("{what} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The export folder cannot be used.
    #[error("export folder `{}`: {reason}", path.display())]
    ExportFolder {
        /// The folder.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The kernel protections could not be applied as the mode requires.
    #[error("lockdown: {0}")]
    Lockdown(String),
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { what, path: path.into(), source }
    }
}
