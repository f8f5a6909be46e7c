//! `misbehave`: a valid task plugin that does whatever its record asks, so the task
//! host's tests can prove each failure ends as a clean error and each hostile attempt
//! at I/O is denied.
//!
//! A record is `{"id": …, "behaviour": B}`. `format-example`, `score` and `reward` all
//! perform `B` (see [`Behaviour`]); `aggregate` behaves, and `validate` refuses only the
//! target of `bad-target`. The probes of the
//! host's WASI report what they saw in the completion, one line per attempt, as
//! `<attempt>: denied: <error>` or `<attempt>: obtained: <what>`, so a test can assert
//! that nothing was obtained. The completion is that report as a JSON string, which
//! the declared output schema accepts, so `score` and `reward` rate the record's own
//! target as perfect.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rapha_task_sdk::serde_json::{self, Value};
use rapha_task_sdk::{
    Count, Example, ExampleScore, FieldError, FormattedExample, GenerationHints, Message, Metric,
    MetricInfo, Role, Task, TaskError, TaskInfo, Violation, parse_prediction_json, required_str,
    sum_count,
};

/// The plugin's one declared metric.
const ACCURACY: &str = "accuracy";

/// The completion of a `bad-target` record, which `validate` refuses.
const BAD_TARGET: &str = "BAD-TARGET";

/// What a record asks the plugin to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Behave: the report is `ok`.
    Ok,
    /// Spin forever, until the host's fuel or epoch budget stops the call.
    Loop,
    /// Behave in `format-example`; spin forever in `score` and `reward` (a run gets as far
    /// as its first evaluation).
    LoopWhenScored,
    /// Allocate 16 MiB blocks until allocation fails (a trap), or the host's memory
    /// cap refuses to grow the memory.
    MemoryBomb,
    /// Return a 64 MiB completion, beyond any sensible cap on returned sizes.
    HugeOutput,
    /// Panic, which aborts the instance (a trap).
    Panic,
    /// Call `std::process::exit(3)`, i.e. `wasi:cli/exit`.
    Exit,
    /// Behave in `format-example`; `score` returns a metric named `not-declared`,
    /// which `info` does not declare.
    UndeclaredMetric,
    /// `format-example` returns the completion [`BAD_TARGET`], which the plugin's own
    /// `validate` refuses: a target its own contract breaks.
    BadTarget,
    /// Fail with a `task-error` whose text quotes fake patient data,
    /// `SECRET-PATIENT-TEXT`, which must never reach the host's logs.
    GuestError,
    /// Read `/etc/passwd` and list `.`.
    OpenFile,
    /// Count the environment variables and the arguments.
    ReadEnv,
    /// Connect over TCP to `127.0.0.1:80` and bind a UDP socket.
    Socket,
    /// Read the wall clock and measure an interval on the monotonic clock.
    Clock,
    /// Read 8 bytes from `wasi:random/random` (`get-random-bytes`).
    Random,
}

impl Behaviour {
    const ALL: [(&'static str, Behaviour); 15] = [
        ("ok", Behaviour::Ok),
        ("loop", Behaviour::Loop),
        ("loop-when-scored", Behaviour::LoopWhenScored),
        ("memory-bomb", Behaviour::MemoryBomb),
        ("huge-output", Behaviour::HugeOutput),
        ("panic", Behaviour::Panic),
        ("exit", Behaviour::Exit),
        ("undeclared-metric", Behaviour::UndeclaredMetric),
        ("bad-target", Behaviour::BadTarget),
        ("guest-error", Behaviour::GuestError),
        ("open-file", Behaviour::OpenFile),
        ("read-env", Behaviour::ReadEnv),
        ("socket", Behaviour::Socket),
        ("clock", Behaviour::Clock),
        ("random", Behaviour::Random),
    ];

    fn of(example: &Example) -> Result<Behaviour, TaskError> {
        let name = required_str(example, "behaviour")?;
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, behaviour)| *behaviour)
            .ok_or_else(|| {
                let known: Vec<String> = Self::ALL
                    .iter()
                    .map(|(known, _)| format!("`{known}`"))
                    .collect();
                TaskError::InvalidField(FieldError {
                    field: "/behaviour".to_owned(),
                    reason: format!("expected one of {}, found `{name}`", known.join(", ")),
                })
            })
    }

    /// Do it; the report, or the error the record asked for.
    fn perform(self) -> Result<String, TaskError> {
        match self {
            Behaviour::Ok | Behaviour::UndeclaredMetric | Behaviour::BadTarget | Behaviour::LoopWhenScored => {
                Ok("ok".to_owned())
            }
            Behaviour::Loop => loop {
                black_box(());
            },
            Behaviour::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Written, not zeroed, so every page is really touched.
                    hoard.push(vec![1; 16 << 20]);
                    black_box(&hoard);
                }
            }
            Behaviour::HugeOutput => Ok("x".repeat(64 << 20)),
            Behaviour::Panic => panic!("misbehave: panicking because the record asked to"),
            Behaviour::Exit => std::process::exit(3),
            Behaviour::GuestError => Err(TaskError::Other(
                "cannot use the note of SECRET-PATIENT-TEXT".to_owned(),
            )),
            Behaviour::OpenFile => Ok(open_file()),
            Behaviour::ReadEnv => Ok(read_env()),
            Behaviour::Socket => Ok(socket()),
            Behaviour::Clock => Ok(clock()),
            Behaviour::Random => Ok(random()),
        }
    }
}

fn outcome<T, E: std::fmt::Display>(
    attempt: &str,
    result: Result<T, E>,
    got: impl Fn(T) -> String,
) -> String {
    match result {
        Ok(value) => format!("{attempt}: obtained: {}\n", got(value)),
        Err(error) => format!("{attempt}: denied: {error}\n"),
    }
}

fn open_file() -> String {
    let mut report = outcome(
        "read `/etc/passwd`",
        std::fs::read_to_string("/etc/passwd"),
        |text| format!("{} bytes", text.len()),
    );
    report += &outcome("list `.`", std::fs::read_dir("."), |entries| {
        format!("{} entries", entries.count())
    });
    report
}

fn read_env() -> String {
    let vars = std::env::vars().count();
    let args = std::env::args().count();
    format!("environment: obtained: {vars} variables\narguments: obtained: {args} arguments\n")
}

fn socket() -> String {
    let mut report = outcome(
        "tcp connect `127.0.0.1:80`",
        std::net::TcpStream::connect("127.0.0.1:80"),
        |stream| format!("a connection from {:?}", stream.local_addr()),
    );
    report += &outcome(
        "udp bind `127.0.0.1:0`",
        std::net::UdpSocket::bind("127.0.0.1:0"),
        |socket| format!("a socket at {:?}", socket.local_addr()),
    );
    report
}

fn clock() -> String {
    let mut report = outcome(
        "wall clock",
        SystemTime::now().duration_since(UNIX_EPOCH),
        |since| format!("{} ns since the Unix epoch", since.as_nanos()),
    );
    let start = Instant::now();
    black_box((0..1_000_u64).map(black_box).sum::<u64>());
    let elapsed = start.elapsed();
    writeln!(
        report,
        "monotonic clock: obtained: {} ns elapsed",
        elapsed.as_nanos()
    )
    .expect("writing to a String cannot fail");
    report
}

/// Straight through `wasi:random/random`, so no library's fallback can stand in for it.
fn random() -> String {
    let bytes = wasip2::random::random::get_random_bytes(8);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("random bytes: obtained: {hex}\n")
}

/// The record's behaviour, performed; the report and the behaviour.
fn act(example: &Example) -> Result<(Behaviour, String), TaskError> {
    let behaviour = Behaviour::of(example)?;
    Ok((behaviour, behaviour.perform()?))
}

/// The report as a JSON string. Sized up front, so that `huge-output` needs only twice
/// its 64 MiB rather than the four that doubling a buffer could take: it then fails on
/// the host's output cap, not on the memory cap.
fn completion(report: &str) -> String {
    let mut json = Vec::with_capacity(report.len() + 2);
    serde_json::to_writer(&mut json, report).expect("writing a string to a Vec cannot fail");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// 1 when `prediction` is the report as a JSON string, else 0.
fn accuracy(prediction: &str, report: String) -> f64 {
    if parse_prediction_json(prediction) == Some(Value::String(report)) {
        1.0
    } else {
        0.0
    }
}

/// The `misbehave` task.
pub struct Misbehave;

impl Task for Misbehave {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "misbehave".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Misbehaves as each record asks; for the task host's tests".to_owned(),
            metrics: vec![MetricInfo {
                name: ACCURACY.to_owned(),
                higher_is_better: true,
                description: "Share of records whose prediction is the expected report, pooled over the corpus"
                    .to_owned(),
            }],
            output_schema: r#"{"type": "string"}"#.to_owned(),
            generation: GenerationHints {
                max_new_tokens: 64,
                stop: vec![],
            },
            system_prompt: "Repeat the report of the behaviour named.".to_owned(),
        }
    }

    fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
        let (behaviour, report) = act(example)?;
        let name = required_str(example, "behaviour")?;
        let completion = if behaviour == Behaviour::BadTarget { BAD_TARGET.to_owned() } else { completion(&report) };
        Ok(FormattedExample {
            messages: vec![
                Message {
                    role: Role::System,
                    content: Self::info().system_prompt,
                },
                Message {
                    role: Role::User,
                    content: format!("behaviour: {name}"),
                },
            ],
            completion,
        })
    }

    fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
        let (behaviour, report) = act(example)?;
        if behaviour == Behaviour::LoopWhenScored {
            Behaviour::Loop.perform()?;
        }
        let value = accuracy(prediction, report);
        let name = if behaviour == Behaviour::UndeclaredMetric {
            "not-declared"
        } else {
            ACCURACY
        };
        Ok(ExampleScore {
            metrics: vec![Metric {
                name: name.to_owned(),
                value,
            }],
            counts: vec![
                Count {
                    key: "correct".to_owned(),
                    value,
                },
                Count {
                    key: "records".to_owned(),
                    value: 1.0,
                },
            ],
        })
    }

    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        let records = sum_count(scores, "records");
        let value = if records == 0.0 {
            0.0
        } else {
            sum_count(scores, "correct") / records
        };
        Ok(vec![Metric {
            name: ACCURACY.to_owned(),
            value,
        }])
    }

    fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
        let (behaviour, report) = act(example)?;
        if behaviour == Behaviour::LoopWhenScored {
            Behaviour::Loop.perform()?;
        }
        Ok(accuracy(prediction, report))
    }

    /// No rules beyond the output schema.
    fn validate(prediction: &str) -> Result<(), Violation> {
        if prediction == BAD_TARGET {
            return Err(Violation { path: String::new(), reason: "the target of `bad-target`".to_owned() });
        }
        Ok(())
    }
}

rapha_task_sdk::register_task!(Misbehave);

#[cfg(test)]
mod tests {
    use super::*;

    fn example(behaviour: &str) -> Example {
        rapha_task_sdk::parse_example(&format!(r#"{{"id": 1, "behaviour": "{behaviour}"}}"#))
            .expect("test record is a JSON object")
    }

    #[test]
    fn ok_target_scores_perfectly() {
        let formatted = Misbehave::format_example(&example("ok")).expect("ok formats");
        assert_eq!(formatted.completion, r#""ok""#);
        let score = Misbehave::score(&formatted.completion, &example("ok")).expect("ok scores");
        assert_eq!(score.metrics[0].name, "accuracy");
        assert_eq!(score.metrics[0].value, 1.0);
        assert_eq!(
            Misbehave::aggregate(&[score]).expect("aggregates")[0].value,
            1.0
        );
    }

    #[test]
    fn undeclared_metric_is_returned_by_score_only() {
        let formatted = Misbehave::format_example(&example("undeclared-metric")).expect("formats");
        let score =
            Misbehave::score(&formatted.completion, &example("undeclared-metric")).expect("scores");
        assert_eq!(score.metrics[0].name, "not-declared");
        assert!(
            Misbehave::info()
                .metrics
                .iter()
                .all(|metric| metric.name != "not-declared")
        );
    }

    #[test]
    fn guest_error_quotes_the_fake_patient_text() {
        match Misbehave::format_example(&example("guest-error")) {
            Err(TaskError::Other(text)) => assert!(text.contains("SECRET-PATIENT-TEXT"), "{text}"),
            other => panic!("expected TaskError::Other, found {other:?}"),
        }
    }

    #[test]
    fn unknown_behaviour_names_the_field_and_the_choices() {
        match Misbehave::format_example(&example("dance")) {
            Err(TaskError::InvalidField(error)) => {
                assert_eq!(error.field, "/behaviour");
                assert!(error.reason.contains("found `dance`"), "{}", error.reason);
                assert!(error.reason.contains("`memory-bomb`"), "{}", error.reason);
            }
            other => panic!("expected TaskError::InvalidField, found {other:?}"),
        }
    }

    #[test]
    fn probes_report_each_attempt_on_its_own_line() {
        let report = Behaviour::Clock.perform().expect("the clock probe reports");
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 2, "{report}");
        assert!(lines[0].starts_with("wall clock: obtained: "), "{report}");
        assert!(
            lines[1].starts_with("monotonic clock: obtained: "),
            "{report}"
        );
    }
}
