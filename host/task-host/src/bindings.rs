//! `bindgen!` over `wit/` (the `task-plugin` world of `rapha:task@0.1.0`), and the
//! conversions between its types and the host's (`types.rs`).

use crate::types;

wasmtime::component::bindgen!({
    world: "task-plugin",
    path: "../../wit",
});

pub(crate) use rapha::task::types as wit;

impl From<wit::TaskInfo> for types::TaskInfo {
    fn from(info: wit::TaskInfo) -> Self {
        types::TaskInfo {
            id: info.id,
            version: info.version,
            description: info.description,
            metrics: info.metrics.into_iter().map(Into::into).collect(),
            output_schema: info.output_schema,
            generation: types::GenerationHints {
                max_new_tokens: info.generation.max_new_tokens,
                stop: info.generation.stop,
            },
            system_prompt: info.system_prompt,
        }
    }
}

impl From<wit::MetricInfo> for types::MetricInfo {
    fn from(metric: wit::MetricInfo) -> Self {
        types::MetricInfo {
            name: metric.name,
            higher_is_better: metric.higher_is_better,
            description: metric.description,
        }
    }
}

impl From<wit::FormattedExample> for types::FormattedExample {
    fn from(example: wit::FormattedExample) -> Self {
        types::FormattedExample {
            messages: example
                .messages
                .into_iter()
                .map(|message| types::Message {
                    role: match message.role {
                        wit::Role::System => types::Role::System,
                        wit::Role::User => types::Role::User,
                    },
                    content: message.content,
                })
                .collect(),
            completion: example.completion,
        }
    }
}

impl From<wit::Metric> for types::Metric {
    fn from(metric: wit::Metric) -> Self {
        types::Metric {
            name: metric.name,
            value: metric.value,
        }
    }
}

impl From<types::Metric> for wit::Metric {
    fn from(metric: types::Metric) -> Self {
        wit::Metric {
            name: metric.name,
            value: metric.value,
        }
    }
}

impl From<wit::ExampleScore> for types::ExampleScore {
    fn from(score: wit::ExampleScore) -> Self {
        types::ExampleScore {
            metrics: score.metrics.into_iter().map(Into::into).collect(),
            counts: score
                .counts
                .into_iter()
                .map(|count| types::Count {
                    key: count.key,
                    value: count.value,
                })
                .collect(),
        }
    }
}

impl From<&types::ExampleScore> for wit::ExampleScore {
    fn from(score: &types::ExampleScore) -> Self {
        wit::ExampleScore {
            metrics: score.metrics.iter().cloned().map(Into::into).collect(),
            counts: score
                .counts
                .iter()
                .map(|count| wit::Count {
                    key: count.key.clone(),
                    value: count.value,
                })
                .collect(),
        }
    }
}

impl From<wit::Violation> for types::Violation {
    fn from(violation: wit::Violation) -> Self {
        types::Violation {
            path: violation.path,
            reason: violation.reason,
        }
    }
}
