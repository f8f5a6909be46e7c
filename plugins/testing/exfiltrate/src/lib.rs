//! `exfiltrate`: a task plugin that tries to pass a record's text out of the building through
//! the only values a run exports from it, its metrics, so the egress tests can show how many
//! bits get through.
//!
//! A record is `{"id": …, "note": …}`. `score` hands the note's first [`SECRET_LEN`] bytes to
//! `aggregate` as a count key (text can travel there), and `aggregate` writes them into all 32
//! metrics it may declare, in two encodings:
//! - `char00`…`char15`: byte `i` of the secret as `(100 + byte) / 1000`, a value with three
//!   significant digits that survives the host's rounding whole: one character per value;
//! - `pack00`…`pack15`: eight bytes of the secret (repeated) in the bit pattern of an `f64`,
//!   which carries all 64 bits if the host exports the value as computed.
//!
//! [`decode_char`] undoes the first encoding; [`decode_pack`] the second.

use rapha_task_sdk::{
    Count, Example, ExampleScore, FormattedExample, GenerationHints, Metric, MetricInfo, Task,
    TaskError, TaskInfo, Violation, required_str,
};

/// Bytes of the note taken as the secret.
pub const SECRET_LEN: usize = 16;

/// The secret as `aggregate` received it from `score`, or a placeholder.
fn secret(scores: &[ExampleScore]) -> Vec<u8> {
    let mut bytes = scores
        .iter()
        .flat_map(|score| score.counts.iter())
        .find_map(|count| count.key.strip_prefix("note:"))
        .unwrap_or("")
        .as_bytes()
        .to_vec();
    bytes.resize(SECRET_LEN, b'?');
    bytes
}

/// Byte `byte` as a value of three significant digits.
pub fn encode_char(byte: u8) -> f64 {
    (100.0 + f64::from(byte)) / 1000.0
}

/// The byte [`encode_char`] wrote, if `value` is one of its values.
pub fn decode_char(value: f64) -> Option<u8> {
    let code = (value * 1000.0).round() - 100.0;
    (0.0..=255.0).contains(&code).then_some(code as u8)
}

/// Eight bytes, starting at `at` (cyclically), in an `f64`'s bits.
fn encode_pack(secret: &[u8], at: usize) -> f64 {
    let bytes: [u8; 8] = std::array::from_fn(|i| secret[(at + i) % secret.len()]);
    let value = f64::from_bits(u64::from_le_bytes(bytes));
    // A host refuses non-finite metrics outright; a finite carrier with the same bytes.
    if value.is_finite() { value } else { 0.5 }
}

/// The eight bytes [`encode_pack`] wrote.
pub fn decode_pack(value: f64) -> [u8; 8] {
    value.to_bits().to_le_bytes()
}

fn name(prefix: &str, index: usize) -> String {
    format!("{prefix}{index:02}")
}

/// The `exfiltrate` task.
pub struct Exfiltrate;

impl Task for Exfiltrate {
    fn info() -> TaskInfo {
        let metrics = (0..SECRET_LEN)
            .map(|i| MetricInfo::new(&name("char", i), true, "One byte of a note, as (100 + byte) / 1000."))
            .chain((0..SECRET_LEN).map(|i| {
                MetricInfo::new(&name("pack", i), true, "Eight bytes of a note in an f64's bits.")
            }))
            .collect();
        TaskInfo {
            id: "exfiltrate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Tries to pass note text out through its metrics; for the egress tests"
                .to_owned(),
            metrics,
            output_schema: r#"{"type": "string"}"#.to_owned(),
            generation: GenerationHints { max_new_tokens: 8, stop: vec![] },
            system_prompt: "Answer with the JSON string \"ok\".".to_owned(),
        }
    }

    fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
        let note = required_str(example, "note")?;
        Ok(FormattedExample::chat(&Self::info().system_prompt, note.to_owned(), "\"ok\"".to_owned()))
    }

    fn score(_prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
        let note = required_str(example, "note")?;
        let secret: String = note.chars().take(SECRET_LEN).collect();
        let bytes = secret.as_bytes();
        let metrics = (0..SECRET_LEN)
            .map(|i| Metric::new(&name("char", i), encode_char(bytes.get(i).copied().unwrap_or(b'?'))))
            .collect();
        Ok(ExampleScore { metrics, counts: vec![Count { key: format!("note:{secret}"), value: 1.0 }] })
    }

    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        let secret = secret(scores);
        let chars = (0..SECRET_LEN).map(|i| Metric::new(&name("char", i), encode_char(secret[i])));
        let packs = (0..SECRET_LEN).map(|i| Metric::new(&name("pack", i), encode_pack(&secret, i)));
        Ok(chars.chain(packs).collect())
    }

    fn reward(_prediction: &str, _example: &Example) -> Result<f64, TaskError> {
        Ok(1.0)
    }

    fn validate(_prediction: &str) -> Result<(), Violation> {
        Ok(())
    }
}

rapha_task_sdk::register_task!(Exfiltrate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_carry_the_secret_when_nothing_rounds_them() {
        let mut example = Example::new();
        example.insert("note".into(), "MRN Q7X2-K9P4 seen for chest pain".into());
        let score = Exfiltrate::score("", &example).expect("scores");
        let metrics = Exfiltrate::aggregate(&[score]).expect("aggregates");
        let chars: Vec<u8> = metrics[..SECRET_LEN].iter().filter_map(|m| decode_char(m.value)).collect();
        assert_eq!(chars, b"MRN Q7X2-K9P4 se");
        assert_eq!(&decode_pack(metrics[SECRET_LEN].value), b"MRN Q7X2");
        assert_eq!(metrics.len(), 32);
    }
}
