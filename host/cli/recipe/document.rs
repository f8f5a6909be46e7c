//! The parsed TOML tree with the byte span of every key and value, used to say where a
//! problem is: serde's errors carry a span but not the key, so the key is found here.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::Position;
use super::schema;

/// A recipe's text and its TOML tree.
pub struct Document<'i> {
    text: &'i str,
    root: Spanned<DeTable<'i>>,
}

/// A key the schema does not have, with the span of its name.
pub struct Unknown {
    /// Table and key (`train.lrate`), or the table alone (`trian`).
    pub path: String,
    /// The span of the key's name.
    pub span: Range<usize>,
}

/// A table or key of the tree, with its path.
struct Entry<'d, 'i> {
    path: String,
    name_span: Range<usize>,
    value: &'d Spanned<DeValue<'i>>,
}

/// The key whose value, or an element of whose array value, sits at a span.
pub struct Located {
    /// Table and key (`lora.rank`), or the table alone (`lora`).
    pub path: String,
    /// The value at the span, described as a message's "found …" part.
    pub found: String,
}

impl<'i> Document<'i> {
    /// Parse `text` as TOML (any TOML: the schema is checked afterwards).
    pub fn parse(text: &'i str) -> Result<Self, toml::de::Error> {
        Ok(Self {
            text,
            root: DeTable::parse(text)?,
        })
    }

    /// The tree, for serde.
    pub fn root(&self) -> Spanned<DeTable<'i>> {
        self.root.clone()
    }

    /// The position of byte `offset`.
    pub fn position(&self, offset: usize) -> Position {
        Position::of_offset(self.text, offset)
    }

    /// The source text of a span, as written in the recipe.
    pub fn source(&self, span: Range<usize>) -> &'i str {
        self.text.get(span).unwrap_or_default()
    }

    /// The first key, in file order, that the schema does not have. Keys under a table
    /// name that is not a table are left to serde, which reports the wrong type.
    pub fn first_unknown(&self) -> Option<Unknown> {
        self.entries()
            .into_iter()
            .filter(|entry| {
                let top_level = !entry.path.contains('.');
                let table = schema::TABLES.contains(&entry.path.as_str());
                if top_level { !table } else { !table && schema::key(&entry.path).is_none() }
            })
            .map(|entry| Unknown { path: entry.path, span: entry.name_span })
            .min_by_key(|unknown| unknown.span.start)
    }

    /// The key whose value, or whose array's element, is exactly at `span`.
    pub fn locate(&self, span: &Range<usize>) -> Option<Located> {
        self.entries().into_iter().find_map(|entry| {
            let value = if entry.value.span() == *span {
                Some(entry.value)
            } else {
                entry.value.get_ref().as_array().and_then(|items| items.iter().find(|item| item.span() == *span))
            };
            value.map(|value| Located { found: self.describe(value), path: entry.path })
        })
    }

    /// The position of every table and key's value, by path (`train`, `train.lr`,
    /// `privacy.dp.epsilon`).
    pub fn positions(&self) -> BTreeMap<String, Position> {
        self.entries().into_iter().map(|entry| (entry.path, self.position(entry.value.span().start))).collect()
    }

    /// Every table and key at any depth, in file order within each table (a table before its
    /// keys): tables the schema knows are walked into, others are left whole.
    fn entries(&self) -> Vec<Entry<'_, 'i>> {
        fn walk<'d, 'i>(prefix: &str, table: &'d DeTable<'i>, out: &mut Vec<Entry<'d, 'i>>) {
            for (name, value) in table {
                let path = if prefix.is_empty() { name.get_ref().to_string() } else { format!("{prefix}.{}", name.get_ref()) };
                out.push(Entry { path: path.clone(), name_span: name.span(), value });
                if let Some(inner) = value.get_ref().as_table()
                    && schema::TABLES.contains(&path.as_str())
                {
                    walk(&path, inner, out);
                }
            }
        }
        let mut out = Vec::new();
        walk("", self.root.get_ref(), &mut out);
        out
    }

    /// A value as a message shows what was found: numbers and booleans as written, other
    /// types by name (a long string in an error message helps nobody).
    fn describe(&self, value: &Spanned<DeValue<'_>>) -> String {
        match value.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                format!("`{}`", self.source(value.span()))
            }
            DeValue::String(_) => "a string".to_owned(),
            DeValue::Datetime(_) => "a date-time".to_owned(),
            DeValue::Array(_) => "an array".to_owned(),
            DeValue::Table(_) => "a table".to_owned(),
        }
    }
}
