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
        let mut unknown = Vec::new();
        for (table, value) in self.root.get_ref() {
            if !schema::TABLES.contains(&table.get_ref().as_ref()) {
                unknown.push(Unknown {
                    path: table.get_ref().to_string(),
                    span: table.span(),
                });
                continue;
            }
            let Some(entries) = value.get_ref().as_table() else {
                continue;
            };
            for (name, _) in entries {
                let path = format!("{}.{}", table.get_ref(), name.get_ref());
                if schema::key(&path).is_none() {
                    unknown.push(Unknown {
                        path,
                        span: name.span(),
                    });
                }
            }
        }
        unknown.into_iter().min_by_key(|unknown| unknown.span.start)
    }

    /// The key whose value, or whose array's element, is exactly at `span`.
    pub fn locate(&self, span: &Range<usize>) -> Option<Located> {
        for (table, value) in self.root.get_ref() {
            if value.span() == *span {
                return Some(Located {
                    path: table.get_ref().to_string(),
                    found: self.describe(value),
                });
            }
            let Some(entries) = value.get_ref().as_table() else {
                continue;
            };
            for (name, value) in entries {
                let at_span = if value.span() == *span {
                    Some(value)
                } else {
                    value
                        .get_ref()
                        .as_array()
                        .and_then(|items| items.iter().find(|item| item.span() == *span))
                };
                if let Some(value) = at_span {
                    let path = format!("{}.{}", table.get_ref(), name.get_ref());
                    return Some(Located {
                        path,
                        found: self.describe(value),
                    });
                }
            }
        }
        None
    }

    /// The position of every table and key's value, by path (`train`, `train.lr`).
    pub fn positions(&self) -> BTreeMap<String, Position> {
        let mut positions = BTreeMap::new();
        for (table, value) in self.root.get_ref() {
            positions.insert(
                table.get_ref().to_string(),
                self.position(value.span().start),
            );
            let Some(entries) = value.get_ref().as_table() else {
                continue;
            };
            for (name, value) in entries {
                let path = format!("{}.{}", table.get_ref(), name.get_ref());
                positions.insert(path, self.position(value.span().start));
            }
        }
        positions
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
