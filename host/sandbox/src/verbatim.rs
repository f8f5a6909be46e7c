//! Detect runs of words copied from the source text.
//!
//! Words are those of the ROUGE tokenizer (Google's `rouge-score`): the text is
//! lower-cased and split into runs of ASCII letters and digits, so punctuation,
//! case and spacing changes do not hide a copied run.

use std::collections::HashSet;

/// Every run of `n` consecutive words of a corpus, hashed, so that an exported
/// text can be checked for verbatim copies without keeping the corpus in memory.
#[derive(Debug, Clone)]
pub struct VerbatimIndex {
    n: usize,
    windows: HashSet<u64>,
}

impl VerbatimIndex {
    /// An index of runs of `n` words (n ≥ 1) over `texts`.
    pub fn new<'a>(n: usize, texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = VerbatimIndex { n: n.max(1), windows: HashSet::new() };
        for text in texts {
            index.add(text);
        }
        index
    }

    /// Index the runs of `text` too, so a corpus can be indexed as it streams past.
    pub fn add(&mut self, text: &str) {
        let words = words(text);
        self.windows.extend(words.windows(self.n).map(hash_window));
    }

    /// The run length this index checks.
    pub fn run_length(&self) -> usize {
        self.n
    }

    /// Number of distinct runs indexed.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether nothing was indexed.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The word offset of the first run of `text` found in the corpus.
    pub fn first_copied_run(&self, text: &str) -> Option<usize> {
        words(text).windows(self.n).position(|w| self.windows.contains(&hash_window(w)))
    }
}

/// The ROUGE tokenizer's words: lower-cased runs of `[a-z0-9]`.
pub fn words(text: &str) -> Vec<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// FNV-1a over the words with a separator: stable across runs and platforms.
fn hash_window(words: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for byte in word.bytes().chain(std::iter::once(b' ')) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "Pt is a 67 y/o male with hx of T2DM, presents c/o chest pain radiating to the left arm.";

    #[test]
    fn finds_a_copied_run_despite_case_and_punctuation() {
        let index = VerbatimIndex::new(8, [NOTE]);
        let report = "Summary: PT IS A 67 Y-O MALE WITH HX OF something else";
        assert_eq!(index.first_copied_run(report), Some(1));
    }

    #[test]
    fn seven_copied_words_pass() {
        let index = VerbatimIndex::new(8, [NOTE]);
        assert_eq!(index.first_copied_run("we saw: presents c o chest pain radiating to, then left"), None);
    }

    #[test]
    fn words_follow_the_rouge_tokenizer() {
        assert_eq!(words("T2DM, 500mg—Metformin!"), ["t2dm", "500mg", "metformin"]);
    }
}
