//! The rules of `wit/types.wit` that the host enforces on what a plugin returns: what
//! `info` may declare (checked once, at load) and what each call may return (checked after
//! every call, before the value reaches the caller).

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result, Site};
use crate::limits::Limits;
use crate::schema::OutputSchema;
use crate::types::{ExampleScore, FormattedExample, Metric, Role, TaskInfo, Violation};

/// At most this many metrics may be declared (the WIT's bound).
pub(crate) const MAX_METRICS: usize = 32;
/// A metric name is 1 to this many characters of `[a-z0-9_-]`.
pub(crate) const MAX_METRIC_NAME: usize = 48;
/// A count key is at most this many bytes.
pub(crate) const MAX_COUNT_KEY: usize = 128;

const MAX_ID: usize = 64;
const MAX_VERSION: usize = 64;
const MAX_DESCRIPTION: usize = 1024;
const MAX_SCHEMA: usize = 256 << 10;
const MAX_SYSTEM_PROMPT: usize = 64 << 10;
const MAX_STOP_STRINGS: usize = 16;
const MAX_STOP_STRING: usize = 256;

/// Check what `info` declares; the output schema, compiled.
pub(crate) fn check_info(info: &TaskInfo, path: &Path) -> Result<OutputSchema> {
    let invalid = |reason: String| Error::InvalidInfo {
        path: path.to_owned(),
        reason,
    };
    let id_ok = (1..=MAX_ID).contains(&info.id.len())
        && info.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(invalid(format!(
            "`id`: expected 1 to {MAX_ID} characters of `[a-z0-9-]`, found `{}`",
            info.id.escape_default()
        )));
    }
    let version_ok = (1..=MAX_VERSION).contains(&info.version.len())
        && info.version.chars().all(|c| c.is_ascii_graphic());
    if !version_ok {
        return Err(invalid(format!(
            "`version`: expected 1 to {MAX_VERSION} printable ASCII characters, found `{}`",
            info.version.escape_default()
        )));
    }
    at_most("description", info.description.len(), MAX_DESCRIPTION).map_err(&invalid)?;
    if info.metrics.len() > MAX_METRICS {
        return Err(invalid(format!(
            "`metrics`: expected at most {MAX_METRICS} metrics, found {}",
            info.metrics.len()
        )));
    }
    let mut seen = HashSet::new();
    for metric in &info.metrics {
        if !valid_metric_name(&metric.name) {
            return Err(invalid(format!(
                "`metrics`: expected names of 1 to {MAX_METRIC_NAME} characters of \
                 `[a-z0-9_-]`, found `{}`",
                metric.name.escape_default()
            )));
        }
        if !seen.insert(metric.name.as_str()) {
            return Err(invalid(format!("`metrics`: `{}` is declared twice", metric.name)));
        }
        at_most("metric description", metric.description.len(), MAX_DESCRIPTION)
            .map_err(&invalid)?;
    }
    if info.generation.max_new_tokens == 0 {
        return Err(invalid(
            "`generation.max-new-tokens`: expected a positive number, found 0".to_owned(),
        ));
    }
    if info.generation.stop.len() > MAX_STOP_STRINGS {
        return Err(invalid(format!(
            "`generation.stop`: expected at most {MAX_STOP_STRINGS} strings, found {}",
            info.generation.stop.len()
        )));
    }
    for stop in &info.generation.stop {
        if stop.is_empty() || stop.len() > MAX_STOP_STRING {
            return Err(invalid(format!(
                "`generation.stop`: expected strings of 1 to {MAX_STOP_STRING} bytes, found {} bytes",
                stop.len()
            )));
        }
    }
    at_most("system-prompt", info.system_prompt.len(), MAX_SYSTEM_PROMPT).map_err(&invalid)?;
    at_most("output-schema", info.output_schema.len(), MAX_SCHEMA).map_err(&invalid)?;
    OutputSchema::new(&info.output_schema).map_err(|reason| {
        invalid(format!(
            "`output-schema`: not a valid JSON Schema (draft 2020-12): {reason}"
        ))
    })
}

fn at_most(field: &str, len: usize, max: usize) -> Result<(), String> {
    if len > max {
        return Err(format!("`{field}`: expected at most {max} bytes, found {len}"));
    }
    Ok(())
}

pub(crate) fn valid_metric_name(name: &str) -> bool {
    (1..=MAX_METRIC_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What `format-example` returned: sizes, then the message order of the WIT.
pub(crate) fn check_formatted(example: &FormattedExample, limits: &Limits, site: &Site) -> Result<()> {
    if example.messages.len() > limits.messages {
        return Err(too_large(site, "messages", limits.messages, example.messages.len()));
    }
    let bytes = example.completion.len()
        + example.messages.iter().map(|message| message.content.len()).sum::<usize>();
    if bytes > limits.output_bytes {
        return Err(too_large(site, "completion and messages (bytes)", limits.output_bytes, bytes));
    }
    let systems = example.messages.iter().filter(|message| message.role == Role::System).count();
    let system_first = example.messages.first().is_some_and(|message| message.role == Role::System);
    let has_user = example.messages.iter().any(|message| message.role == Role::User);
    let order_ok = systems == 0 || (systems == 1 && system_first);
    if !order_ok || !has_user {
        return Err(Error::InvalidOutput {
            site: Box::new(site.clone()),
            reason: format!(
                "messages: expected at most one system message, first, then at least one \
                 user message, found {systems} system and {} user messages{}",
                example.messages.len() - systems,
                if systems == 1 && !system_first { ", the system message not first" } else { "" }
            ),
        });
    }
    Ok(())
}

/// What `score` returned.
pub(crate) fn check_score(score: &ExampleScore, info: &TaskInfo, limits: &Limits, site: &Site) -> Result<()> {
    check_metrics(&score.metrics, info, limits, site)?;
    if score.counts.len() > limits.counts {
        return Err(too_large(site, "counts", limits.counts, score.counts.len()));
    }
    for count in &score.counts {
        if count.key.len() > MAX_COUNT_KEY {
            return Err(too_large(site, "count key (bytes)", MAX_COUNT_KEY, count.key.len()));
        }
        if !count.value.is_finite() {
            return Err(Error::NonFinite {
                site: Box::new(site.clone()),
                name: "a count".to_owned(),
                value: count.value,
            });
        }
    }
    Ok(())
}

/// Metrics returned by `score` or `aggregate`: declared, finite, each at most once.
pub(crate) fn check_metrics(metrics: &[Metric], info: &TaskInfo, limits: &Limits, site: &Site) -> Result<()> {
    if metrics.len() > MAX_METRICS {
        return Err(too_large(site, "metrics", MAX_METRICS, metrics.len()));
    }
    let bytes: usize = metrics.iter().map(|metric| metric.name.len()).sum();
    if bytes > limits.output_bytes {
        return Err(too_large(site, "metric names (bytes)", limits.output_bytes, bytes));
    }
    let mut seen = HashSet::new();
    for metric in metrics {
        if info.metric(&metric.name).is_none() {
            return Err(Error::UndeclaredMetric {
                name: valid_metric_name(&metric.name).then(|| metric.name.clone()),
                len: metric.name.len(),
                site: Box::new(site.clone()),
            });
        }
        if !metric.value.is_finite() {
            return Err(Error::NonFinite {
                site: Box::new(site.clone()),
                name: metric.name.clone(),
                value: metric.value,
            });
        }
        if !seen.insert(metric.name.as_str()) {
            return Err(Error::InvalidOutput {
                site: Box::new(site.clone()),
                reason: format!("metric `{}` returned twice", metric.name),
            });
        }
    }
    Ok(())
}

/// What `reward` returned: a finite number in [0, 1].
pub(crate) fn check_reward(reward: f64, site: &Site) -> Result<()> {
    if !reward.is_finite() {
        return Err(Error::NonFinite {
            site: Box::new(site.clone()),
            name: "reward".to_owned(),
            value: reward,
        });
    }
    if !(0.0..=1.0).contains(&reward) {
        return Err(Error::InvalidOutput {
            site: Box::new(site.clone()),
            reason: format!("reward: expected a number in [0, 1], found `{reward}`"),
        });
    }
    Ok(())
}

/// What `validate` returned as a violation.
pub(crate) fn check_violation(violation: &Violation, limits: &Limits, site: &Site) -> Result<()> {
    let bytes = violation.path.len() + violation.reason.len();
    if bytes > limits.output_bytes {
        return Err(too_large(site, "violation (bytes)", limits.output_bytes, bytes));
    }
    Ok(())
}

fn too_large(site: &Site, what: &'static str, limit: usize, found: usize) -> Error {
    Error::OutputTooLarge {
        site: Box::new(site.clone()),
        what,
        limit,
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Call;
    use crate::types::{GenerationHints, Message, MetricInfo};

    fn info() -> TaskInfo {
        TaskInfo {
            id: "icd-coding".to_owned(),
            version: "0.1.0".to_owned(),
            description: "codes".to_owned(),
            metrics: vec![MetricInfo {
                name: "micro_f1".to_owned(),
                higher_is_better: true,
                description: "micro F1".to_owned(),
            }],
            output_schema: r#"{"type": "array"}"#.to_owned(),
            generation: GenerationHints {
                max_new_tokens: 64,
                stop: vec![],
            },
            system_prompt: String::new(),
        }
    }

    fn site() -> Site {
        Site {
            plugin: "icd-coding".to_owned(),
            version: Some("0.1.0".to_owned()),
            wit: "0.1.0".to_owned(),
            call: Call::Score,
            record: Some(3),
        }
    }

    #[test]
    fn info_with_a_bad_metric_name_or_too_many_metrics_is_refused() {
        let path = Path::new("p.wasm");
        assert!(check_info(&info(), path).is_ok());
        let mut upper = info();
        upper.metrics[0].name = "Micro F1".to_owned();
        let error = check_info(&upper, path).expect_err("upper case and space");
        assert!(error.to_string().contains("found `Micro F1`"), "{error}");
        let mut many = info();
        many.metrics = (0..33)
            .map(|i| MetricInfo {
                name: format!("m{i}"),
                higher_is_better: true,
                description: String::new(),
            })
            .collect();
        let error = check_info(&many, path).expect_err("33 metrics");
        assert!(error.to_string().contains("at most 32 metrics, found 33"), "{error}");
        let mut long = info();
        long.metrics[0].name = "a".repeat(49);
        assert!(check_info(&long, path).is_err());
    }

    #[test]
    fn undeclared_and_non_finite_metrics_are_errors() {
        let limits = Limits::default();
        let undeclared = [Metric {
            name: "accuracy".to_owned(),
            value: 1.0,
        }];
        let error = check_metrics(&undeclared, &info(), &limits, &site()).expect_err("undeclared");
        assert_eq!(
            error.to_string(),
            "plugin `icd-coding` 0.1.0 (rapha:task@0.1.0), call `score`, record 3: \
             returned metric `accuracy`, which `info` does not declare"
        );
        let hidden = [Metric {
            name: "the patient's name".to_owned(),
            value: 1.0,
        }];
        let error = check_metrics(&hidden, &info(), &limits, &site()).expect_err("undeclared");
        assert!(!error.to_string().contains("patient"), "{error}");
        let nan = [Metric {
            name: "micro_f1".to_owned(),
            value: f64::NAN,
        }];
        let error = check_metrics(&nan, &info(), &limits, &site()).expect_err("NaN");
        assert!(error.to_string().ends_with("`micro_f1` is not finite: found `NaN`"), "{error}");
    }

    #[test]
    fn a_system_message_after_the_user_message_is_refused() {
        let example = FormattedExample {
            messages: vec![
                Message {
                    role: Role::User,
                    content: "u".to_owned(),
                },
                Message {
                    role: Role::System,
                    content: "s".to_owned(),
                },
            ],
            completion: String::new(),
        };
        let error = check_formatted(&example, &Limits::default(), &site()).expect_err("order");
        assert!(error.to_string().contains("the system message not first"), "{error}");
    }
}
