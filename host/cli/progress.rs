//! Progress bars on stderr (indicatif): optimizer steps with loss, learning rate,
//! tokens per second and ETA, and one bar per evaluation pass.
//!
//! The bars are drawn only when stderr is a terminal and the log format is human;
//! otherwise they are hidden and the same progress reaches the operator through
//! `tracing`. Hidden bars still keep their state, which is what the tests read.
//!
//! No steady tick: indicatif's ticker is a thread, and a thread started before the
//! kernel lockdown makes strict mode refuse to run (Landlock and seccomp bind only the
//! calling thread). The bars redraw on every update instead.

use std::io::IsTerminal as _;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rapha_engine::StepReport;

const TRAINING_TEMPLATE: &str = "{prefix} [{bar:30}] {pos}/{len} steps · {elapsed_precise} · eta {eta} · {msg}";
const EVALUATION_TEMPLATE: &str = "{prefix} [{bar:30}] {pos}/{len} records · {elapsed_precise} · eta {eta}";

/// A spinner after the first this-long of work: a quick step draws nothing.
const SPINNER_DELAY: Duration = Duration::from_millis(300);

/// `work`, with a spinner saying `message` on a terminal's stderr once it has taken
/// [`SPINNER_DELAY`] (so after any log line the work printed as it started). The spinner
/// ticks from a scoped thread: only for commands that take no kernel lockdown later.
pub fn spinner_while<T>(message: &str, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let (done, finished) = mpsc::channel::<()>();
    thread::scope(|scope| {
        scope.spawn(move || {
            if finished.recv_timeout(SPINNER_DELAY) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
            spinner.set_style(ProgressStyle::with_template("{spinner} {msg} · {elapsed}").expect("a valid template"));
            while finished.recv_timeout(Duration::from_millis(120)) == Err(RecvTimeoutError::Timeout) {
                spinner.tick();
            }
            spinner.finish_and_clear();
        });
        let result = work();
        drop(done);
        result
    })
}

/// The bars of one command, drawn together.
#[derive(Clone)]
pub struct Progress {
    bars: MultiProgress,
}

impl Progress {
    /// Bars on stderr when `visible`, else hidden (state kept, nothing drawn).
    pub fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            bars: MultiProgress::with_draw_target(target),
        }
    }

    /// Bar over optimizer steps, starting at `start_step` (a resumed run), ending at `max_steps`.
    pub fn training(&self, start_step: u64, max_steps: u64) -> TrainingBar {
        let bar = self.add(max_steps, TRAINING_TEMPLATE, "train");
        bar.set_position(start_step);
        // Record the starting position, then forget the rate it implies: the steps
        // before a resume were not taken in this process and must not shorten the ETA.
        bar.tick();
        bar.reset_eta();
        TrainingBar {
            bar,
            message: Mutex::new(TrainingMessage::default()),
        }
    }

    /// Bar over records being generated and scored, e.g. label "eval step 40" / "test: base model".
    pub fn evaluation(&self, label: &str, records: u64) -> EvalBar {
        EvalBar {
            bar: self.add(records, EVALUATION_TEMPLATE, label),
        }
    }

    /// Print a line above the bars; nothing when hidden (the caller logs it through
    /// `tracing` as well).
    pub fn println(&self, line: &str) {
        // A failed write to the terminal's stderr leaves nowhere to report it, and the
        // line also went to the log.
        let _printed = self.bars.println(line);
    }

    fn add(&self, len: u64, template: &str, prefix: &str) -> ProgressBar {
        let style = ProgressStyle::with_template(template)
            .expect("the progress templates are valid")
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
            .with_style(style)
            .with_prefix(prefix.to_owned());
        self.bars.add(bar)
    }
}

/// The two halves of the training bar's message: the last step and the last evaluation.
#[derive(Default)]
struct TrainingMessage {
    step: String,
    eval: String,
}

impl TrainingMessage {
    fn render(&self) -> String {
        match (self.step.is_empty(), self.eval.is_empty()) {
            (_, true) => self.step.clone(),
            (true, false) => self.eval.clone(),
            (false, false) => format!("{} · {}", self.step, self.eval),
        }
    }
}

/// The bar over optimizer steps.
pub struct TrainingBar {
    bar: ProgressBar,
    message: Mutex<TrainingMessage>,
}

impl TrainingBar {
    /// Move to `report.step` and show its loss, learning rate and throughput.
    pub fn step(&self, report: &StepReport) {
        if self.bar.length() != Some(report.max_steps) {
            self.bar.set_length(report.max_steps);
        }
        self.update(|message| {
            let loss = report.loss.map_or_else(|| "no unit sampled".to_owned(), |loss| format!("loss {loss:.4}"));
            let spent = report.privacy.map_or_else(String::new, |p| format!(" · ε {:.3}", p.spent.epsilon));
            message.step = format!("{loss} · lr {:.2e} · {:.0} tok/s{spent}", report.learning_rate, report.tokens_per_second);
        });
        self.bar.set_position(report.step);
    }

    /// Show the evaluation at `step`: its validation loss and the selecting metric, when known.
    pub fn eval(&self, step: u64, loss: Option<f64>, metric: Option<(&str, f64)>) {
        let mut text = format!("eval@{step}");
        if let Some(loss) = loss {
            text.push_str(&format!(" loss {loss:.4}"));
        }
        if let Some((name, value)) = metric {
            text.push_str(&format!(" {name} {value:.4}"));
        }
        self.update(|message| message.eval = text);
    }

    /// Leave the bar drawn in its final state.
    pub fn finish(&self) {
        self.bar.finish();
    }

    fn update(&self, change: impl FnOnce(&mut TrainingMessage)) {
        // The message is plain text: a panic while holding the lock cannot leave it
        // inconsistent in a way that matters.
        let mut message = self.message.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut message);
        self.bar.set_message(message.render());
    }
}

/// A bar over the records of one evaluation pass.
pub struct EvalBar {
    bar: ProgressBar,
}

impl EvalBar {
    /// `records` more were generated and scored.
    pub fn inc(&self, records: u64) {
        self.bar.inc(records);
    }

    /// Remove the bar: its result shows in the training bar or the closing table.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: u64, loss: f64) -> StepReport {
        StepReport {
            step,
            max_steps: 100,
            loss: Some(loss),
            learning_rate: 2e-4,
            grad_norm: 1.0,
            tokens: 512,
            scored_tokens: 128,
            tokens_per_second: 1234.4,
            epoch: 0.5,
            privacy: None,
        }
    }

    #[test]
    fn training_bar_follows_steps_and_shows_loss_lr_and_throughput() {
        let progress = Progress::new(false);
        let bar = progress.training(0, 100);
        bar.step(&report(7, 1.23456));
        assert_eq!(bar.bar.position(), 7);
        assert_eq!(bar.bar.length(), Some(100));
        assert_eq!(bar.bar.message(), "loss 1.2346 · lr 2.00e-4 · 1234 tok/s");
    }

    #[test]
    fn training_bar_keeps_the_last_evaluation_next_to_the_last_step() {
        let progress = Progress::new(false);
        let bar = progress.training(0, 100);
        bar.eval(40, Some(0.9), Some(("rouge1", 0.43125)));
        assert_eq!(bar.bar.message(), "eval@40 loss 0.9000 rouge1 0.4313");
        bar.step(&report(41, 0.5));
        assert_eq!(
            bar.bar.message(),
            "loss 0.5000 · lr 2.00e-4 · 1234 tok/s · eval@40 loss 0.9000 rouge1 0.4313"
        );
        bar.eval(50, None, None);
        assert_eq!(bar.bar.message(), "loss 0.5000 · lr 2.00e-4 · 1234 tok/s · eval@50");
    }

    #[test]
    fn resumed_training_bar_starts_at_its_step_without_a_rate_from_earlier_steps() {
        let progress = Progress::new(false);
        let bar = progress.training(900, 1000);
        assert_eq!(bar.bar.position(), 900);
        // Without the reset, 900 steps "taken" in microseconds would give a huge rate
        // and an ETA of zero.
        let rate = bar.bar.per_sec();
        assert!(rate < 1.0, "steps per second right after a resume: {rate}");
    }

    #[test]
    fn training_bar_takes_max_steps_from_the_report() {
        let progress = Progress::new(false);
        let bar = progress.training(0, 10);
        bar.step(&report(3, 1.0));
        assert_eq!(bar.bar.length(), Some(100));
        bar.finish();
        assert!(bar.bar.is_finished());
    }

    #[test]
    fn evaluation_bar_counts_records() {
        let progress = Progress::new(false);
        let bar = progress.evaluation("eval step 40", 12);
        bar.inc(5);
        bar.inc(2);
        assert_eq!(bar.bar.position(), 7);
        assert_eq!(bar.bar.length(), Some(12));
        assert_eq!(bar.bar.prefix(), "eval step 40");
        bar.finish();
        assert!(bar.bar.is_finished());
    }

    #[test]
    fn hidden_progress_prints_nothing_and_does_not_fail() {
        let progress = Progress::new(false);
        assert!(progress.bars.is_hidden());
        progress.println("step 10: loss 1.0");
    }
}
