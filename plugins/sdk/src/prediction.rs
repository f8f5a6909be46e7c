//! Reading a model's raw output as JSON.

/// Parse a prediction as JSON. Surrounding whitespace is ignored, and so is one
/// Markdown code fence around the value (```` ```json … ``` ````), which chat
/// models often add; anything else around the value makes it invalid.
pub fn parse_prediction_json(prediction: &str) -> Option<serde_json::Value> {
    let text = prediction.trim();
    let text = strip_fence(text).unwrap_or(text);
    serde_json::from_str(text).ok()
}

fn strip_fence(text: &str) -> Option<&str> {
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
}
