//! Duplicate keys in JSON a plugin declares. JSON parsers disagree on them (serde_json keeps
//! the last, others the first or refuse), so a schema with `"type"` twice could mean one thing
//! to the host and another to a reviewer's tool; the host refuses such a document instead.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The JSON Pointer of the first key that appears twice in one object of `text`, if any; an
/// error when `text` is not JSON.
pub(crate) fn first_duplicate(text: &str) -> Result<Option<String>, serde_json::Error> {
    let mut found = None;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Walk { pointer: String::new(), found: &mut found }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(found)
}

/// A visit of one value at `pointer`, noting the first duplicate key in `found`.
struct Walk<'a> {
    pointer: String,
    found: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let mut index = 0;
        while items.next_element_seed(Walk { pointer: format!("{}/{index}", self.pointer), found: self.found })?.is_some() {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            let pointer = format!("{}/{}", self.pointer, key.replace('~', "~0").replace('/', "~1"));
            if !keys.insert(key) && self.found.is_none() {
                *self.found = Some(pointer.clone());
            }
            entries.next_value_seed(Walk { pointer, found: self.found })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_duplicate_at_any_depth() {
        assert_eq!(first_duplicate(r#"{"type": "string", "minLength": 1}"#).expect("JSON"), None);
        assert_eq!(
            first_duplicate(r#"{"type": "object", "type": "array"}"#).expect("JSON"),
            Some("/type".to_owned())
        );
        let nested = r#"{"properties": {"codes": {"items": [{"a/b": 1, "a/b": 2}]}}}"#;
        assert_eq!(first_duplicate(nested).expect("JSON"), Some("/properties/codes/items/0/a~1b".to_owned()));
        assert!(first_duplicate("{\"a\": 1} trailing").is_err());
    }
}
