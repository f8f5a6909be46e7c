//! ICD-10-CM FY2026 codes, compiled in, and the normal form codes are compared in.
//!
//! `data/codes-2026.txt` holds every code of the tabular list at every level
//! (3-character categories such as `E11`, subcategories such as `E11.6`, billable
//! codes such as `E11.9`), normalised, unique and sorted by byte value; chapter
//! and block headings (`1`, `A00-A09`) are not codes and are left out.
//! `data/codes.py` writes it from the CMS/NCHS table (see its docstring). A
//! plugin has no file access, so the list is embedded. Lookups binary-search the
//! text itself, line by line, rather than build an index: no allocation and no
//! set-up cost on an instance's first call, which runs under the host's fuel
//! budget.

use std::cmp::Ordering;

const TABLE: &str = include_str!("../data/codes-2026.txt");

/// The form codes are compared in: surrounding Unicode whitespace trimmed,
/// ASCII letters upper-cased, every `.` removed; nothing else changes. So
/// `" e11.9 "` and `"E119"` are the same code.
pub fn normalise(code: &str) -> String {
    code.trim()
        .chars()
        .filter(|&c| c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether a normalised code exists in ICD-10-CM at any level.
pub fn exists(normalised: &str) -> bool {
    let table = TABLE.as_bytes();
    let wanted = normalised.as_bytes();
    // Invariant: `table[low..high]` is a run of whole lines, sorted.
    let (mut low, mut high) = (0, table.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let start = table[low..middle]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(low, |i| low + i + 1);
        let end = table[middle..high]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(high, |i| middle + i);
        match table[start..end].cmp(wanted) {
            Ordering::Equal => return true,
            Ordering::Less => low = end + 1,
            Ordering::Greater => high = start,
        }
    }
    false
}

/// The 3-character category of a normalised code: its first three characters,
/// or the whole code when it is shorter.
pub fn category(normalised: &str) -> &str {
    match normalised.char_indices().nth(3) {
        Some((end, _)) => &normalised[..end],
        None => normalised,
    }
}

/// The conventional written form of a normalised code: a dot after the
/// category when there is more (`E119` → `E11.9`, `I10` → `I10`).
pub fn dotted(normalised: &str) -> String {
    let head = category(normalised);
    let tail = &normalised[head.len()..];
    if tail.is_empty() {
        head.to_owned()
    } else {
        format!("{head}.{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_is_sorted_unique_and_normalised() {
        let codes: Vec<&str> = TABLE.lines().collect();
        // `wc -l data/codes-2026.txt` after running data/codes.py.
        assert_eq!(codes.len(), 98_186);
        assert!(
            codes.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted by byte value, no duplicates"
        );
        for code in &codes {
            let well_formed = (3..=7).contains(&code.len())
                && code.as_bytes()[0].is_ascii_uppercase()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            assert!(well_formed, "code `{code}`");
        }
    }

    /// Every line is found, and so is nothing between two lines: each code with a
    /// character appended, or with its last character dropped when that is not a
    /// code itself.
    #[test]
    fn binary_search_finds_every_code_and_nothing_else() {
        let codes: std::collections::HashSet<&str> = TABLE.lines().collect();
        for code in &codes {
            assert!(exists(code), "`{code}` should exist");
            for suffix in ["0", "Z", "~", " "] {
                let longer = format!("{code}{suffix}");
                assert_eq!(
                    exists(&longer),
                    codes.contains(longer.as_str()),
                    "`{longer}`"
                );
            }
            let shorter = &code[..code.len() - 1];
            assert_eq!(exists(shorter), codes.contains(shorter), "`{shorter}`");
        }
        for code in ["", "\n", "A", "0", "~", "ZZZZZZZZ", "A00\nA000"] {
            assert!(!exists(code), "{code:?} should not exist");
        }
    }

    #[test]
    fn finds_codes_at_every_level_and_nothing_else() {
        for code in [
            "E11", "E116", "E1165", "E119", "I10", "A000", "S72001A", "QA00101", "Z9989",
        ] {
            assert!(exists(code), "`{code}` should exist");
        }
        for code in [
            "A00-A09", "1", "E11.9", "e119", "E1199", "U99", "E1", "", "I1O",
        ] {
            assert!(!exists(code), "`{code}` should not exist");
        }
    }

    #[test]
    fn normalises_trims_upper_cases_and_drops_dots() {
        assert_eq!(normalise(" e11.9\n"), "E119");
        assert_eq!(normalise("S72.001a"), "S72001A");
        assert_eq!(normalise("I.1.0"), "I10");
        assert_eq!(normalise("é11"), "é11");
        assert_eq!(normalise("E11 9"), "E11 9");
    }

    #[test]
    fn splits_categories_and_writes_the_dot() {
        assert_eq!(category("E119"), "E11");
        assert_eq!(category("I10"), "I10");
        assert_eq!(category("E1"), "E1");
        assert_eq!(category("éé11"), "éé1");
        assert_eq!(dotted("E119"), "E11.9");
        assert_eq!(dotted("S72001A"), "S72.001A");
        assert_eq!(dotted("I10"), "I10");
    }
}
