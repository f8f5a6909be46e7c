//! Reading a model's raw output as JSON, and then as the task's answer. The host reads
//! predictions through [`json_text`] too, so the host's schema check and a plugin's
//! `json_valid` and `schema_valid` agree on what a prediction holds.

use serde_json::Value;

/// The text a prediction's JSON is read from: without surrounding whitespace, and without
/// one Markdown code fence around the whole (```` ```json … ``` ````), which chat models
/// often add; anything else around the value stays and makes it invalid.
pub fn json_text(prediction: &str) -> &str {
    let text = prediction.trim();
    fence_body(text).unwrap_or(text)
}

/// Parse a prediction as JSON (see [`json_text`]).
pub fn parse_prediction_json(prediction: &str) -> Option<Value> {
    serde_json::from_str(json_text(prediction)).ok()
}

/// A prediction read as JSON, then as the task's answer `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The JSON value, if the prediction is JSON.
    pub json: Option<Value>,
    /// The answer, if the JSON has the answer's shape.
    pub answer: Option<T>,
}

impl<T> Parsed<T> {
    /// Read `prediction` as JSON, then with `answer` (the task's own reading of the
    /// output schema's shape).
    pub fn read(prediction: &str, answer: impl FnOnce(&Value) -> Option<T>) -> Self {
        let json = parse_prediction_json(prediction);
        let answer = json.as_ref().and_then(answer);
        Parsed { json, answer }
    }

    /// Whether the prediction is JSON: the `json_valid` metric.
    pub fn json_valid(&self) -> bool {
        self.json.is_some()
    }

    /// Whether it is the answer's shape: the `schema_valid` metric.
    pub fn schema_valid(&self) -> bool {
        self.answer.is_some()
    }
}

/// The body of one Markdown code fence around the whole text, if there is one.
fn fence_body(text: &str) -> Option<&str> {
    let body = text.strip_prefix("```")?.strip_suffix("```")?;
    let body = body.strip_prefix("json").unwrap_or(body);
    Some(body.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_fenced_json() {
        assert_eq!(
            parse_prediction_json(" [1, 2] \n"),
            Some(serde_json::json!([1, 2]))
        );
        assert_eq!(
            parse_prediction_json("```json\n{\"a\": 1}\n```"),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            parse_prediction_json("```\ntrue\n```"),
            Some(serde_json::json!(true))
        );
    }

    #[test]
    fn rejects_text_around_the_value() {
        assert_eq!(parse_prediction_json("Here you go: [1]"), None);
        assert_eq!(parse_prediction_json("[1] done"), None);
        assert_eq!(parse_prediction_json(""), None);
    }

    #[test]
    fn reads_the_answer_only_from_json() {
        let positive = |value: &Value| value.as_u64().filter(|n| *n > 0);
        let read = Parsed::read("```json 3```", positive);
        assert!(read.json_valid() && read.schema_valid());
        assert_eq!(read.answer, Some(3));
        let zero = Parsed::read("0", positive);
        assert!(zero.json_valid() && !zero.schema_valid());
        let prose = Parsed::read("three", positive);
        assert!(!prose.json_valid() && !prose.schema_valid());
    }
}
