use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{D, DType, Tensor};
use rapha_engine::batch::Batch;
use rapha_engine::{
    Checkpoint, Decay, Example, Finish, Flow, Mode, Model, Observer, Quantization, Silent, StepReport, TrainConfig, Trainer,
};

use crate::random_model::{self, examples};

fn config(dir: Option<&Path>) -> TrainConfig {
    TrainConfig {
        max_steps: 6,
        learning_rate: 5e-3,
        warmup_steps: 2,
        decay: Decay::Cosine,
        micro_batch_size: 3,
        grad_accum_steps: 2,
        max_seq_len: 10,
        max_grad_norm: Some(1.0),
        seed: 5,
        checkpoint_every: dir.map(|_| 3),
        checkpoint_dir: dir.map(Path::to_path_buf),
        adamw: rapha_engine::AdamWConfig { weight_decay: 0.01, ..Default::default() },
        ..TrainConfig::default()
    }
}

/// With `freeze_a` (FFA-LoRA) every `A` ends bit for bit as built while `B` learns; without
/// it `A` learns too.
#[test]
fn freezing_a_trains_only_b() {
    let lora = random_model::lora(4, 0.0);
    let built = random_model::model(Some(&lora), Quantization::Nf4);
    let initial = rapha_engine::PeftAdapter::from_model(&built, &lora, None).unwrap();
    for freeze_a in [true, false] {
        let model = random_model::model(Some(&lora), Quantization::Nf4);
        let mut trainer = Trainer::new(&model, &lora, examples(11, 1), Vec::new(), TrainConfig { freeze_a, ..config(None) }).unwrap();
        trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
        let trained = trainer.adapter().unwrap();
        for (name, pair) in &trained.modules {
            let same = |a: &Tensor, b: &Tensor| a.flatten_all().unwrap().to_vec1::<f32>().unwrap() == b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(same(&pair.a, &initial.modules[name].a), freeze_a, "{name} lora_A, freeze_a {freeze_a}");
            assert!(!same(&pair.b, &initial.modules[name].b), "{name} lora_B learns");
        }
    }
}

/// Raises the stop flag once `at` steps are done, as a Ctrl-C handler would.
struct StopAt<'a> {
    at: u64,
    flag: &'a AtomicBool,
    losses: Vec<f64>,
}

impl Observer for StopAt<'_> {
    type Error = rapha_engine::Error;

    fn on_step(&mut self, report: &StepReport) -> rapha_engine::Result<()> {
        self.losses.push(report.loss.expect("a step without DP has a loss"));
        if report.step == self.at {
            self.flag.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Train 6 steps straight; train 3, stop, drop everything, resume from the checkpoint in a
/// fresh model and trainer, train 3 more: the losses and the final adapter bytes are equal.
/// NF4 base, dropout on, gradient accumulation, warmup, clipping and weight decay all play.
#[test]
fn resume_repeats_an_uninterrupted_run_bit_for_bit() {
    let lora = random_model::lora(4, 0.1);
    let data = examples(11, 1);

    let straight_dir = tempfile::tempdir().unwrap();
    let model = random_model::model(Some(&lora), Quantization::Nf4);
    let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), config(Some(straight_dir.path()))).unwrap();
    let straight = trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
    assert_eq!(straight.finish, Finish::Completed);
    assert_eq!(straight.losses.len(), 6);
    let straight_adapter = trainer.adapter().unwrap().weights_bytes().unwrap();
    drop(trainer);

    let dir = tempfile::tempdir().unwrap();
    let flag = AtomicBool::new(false);
    let first_half = {
        let model = random_model::model(Some(&lora), Quantization::Nf4);
        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), config(Some(dir.path()))).unwrap();
        let mut stop = StopAt { at: 3, flag: &flag, losses: Vec::new() };
        let summary = trainer.run(&mut stop, &flag).unwrap();
        assert_eq!(summary.finish, Finish::Stopped);
        assert_eq!(summary.steps, 3);
        assert_eq!(summary.last_checkpoint.as_deref(), Some(dir.path().join("checkpoint-3").as_path()));
        stop.losses
    };
    let model = random_model::model(Some(&lora), Quantization::Nf4);
    let mut trainer = Trainer::new(&model, &lora, data, Vec::new(), config(Some(dir.path()))).unwrap();
    assert_eq!(trainer.resume_latest().unwrap().step, Some(3));
    let second_half = trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
    assert_eq!(second_half.steps, 6);

    let resumed: Vec<f64> = first_half.iter().chain(second_half.losses.iter().flatten()).copied().collect();
    let straight_losses: Vec<f64> = straight.losses.iter().flatten().copied().collect();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&resumed), bits(&straight_losses), "resumed {resumed:?}\nstraight {straight_losses:?}");
    assert_eq!(trainer.adapter().unwrap().weights_bytes().unwrap(), straight_adapter, "final adapters differ");
    // The loss moved: the run trained something.
    assert_ne!(straight.losses[0], straight.losses[5]);
}

/// A byte flipped in any file of the newest checkpoint, or a file of it lost: the resume
/// passes over it to the newest intact one, saying which and why; with every checkpoint
/// damaged it refuses.
#[test]
fn resume_skips_a_damaged_checkpoint_to_the_newest_intact_one() {
    let lora = random_model::lora(2, 0.0);
    let data = examples(4, 2);
    for file in ["adapter_model.safetensors", "adapter_config.json", "optimizer.safetensors", "trainer_state.json"] {
        let dir = tempfile::tempdir().expect("temporary folder");
        let model = random_model::model(Some(&lora), Quantization::None);
        let settings = || TrainConfig { max_steps: 2, warmup_steps: 0, checkpoint_every: Some(1), keep_checkpoints: 2, ..config(Some(dir.path())) };
        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), settings()).expect("trainer");
        trainer.run(&mut Silent, &AtomicBool::new(false)).expect("two steps");
        let path = dir.path().join("checkpoint-2").join(file);
        let mut bytes = std::fs::read(&path).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, bytes).expect("write");

        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), settings()).expect("trainer");
        let resumed = trainer.resume_latest().expect("the older checkpoint");
        assert_eq!(resumed.step, Some(1), "{file}");
        assert_eq!(resumed.skipped.len(), 1, "{file}");
        assert_eq!(resumed.skipped[0].0, dir.path().join("checkpoint-2"));
        assert_eq!(resumed.skipped[0].1, format!("`{file}` differs from its sha256 in `checksums.json`"));

        std::fs::remove_file(dir.path().join("checkpoint-1").join("trainer_state.json")).expect("remove");
        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), settings()).expect("trainer");
        let error = trainer.resume_latest().expect_err("none intact").to_string();
        assert!(error.contains("no checkpoint is intact"), "{error}");
        assert!(error.contains("checkpoint-1`: `trainer_state.json`: No such file"), "{error}");
    }
}

/// A checkpoint of one run is refused by a run with another seed.
#[test]
fn resume_refuses_a_checkpoint_of_another_run() {
    let lora = random_model::lora(2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let model = random_model::model(Some(&lora), Quantization::None);
    let mut trainer =
        Trainer::new(&model, &lora, examples(4, 2), Vec::new(), TrainConfig { max_steps: 1, ..config(Some(dir.path())) })
            .unwrap();
    trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
    let other = TrainConfig { seed: 6, max_steps: 1, ..config(Some(dir.path())) };
    let mut trainer = Trainer::new(&model, &lora, examples(4, 2), Vec::new(), other).unwrap();
    let err = trainer.resume(&dir.path().join("checkpoint-1")).unwrap_err().to_string();
    assert!(err.contains("written by a run with other settings or data"), "{err}");
}

/// Mean cross-entropy over the completion tokens of `rows`, from the full logits, in f64:
/// an independent reading of "causal-LM loss on completion tokens".
fn reference_loss(model: &Model, rows: &[&Example]) -> (f64, usize) {
    let mut sum = 0.0;
    let mut count = 0;
    for ex in rows {
        let ids: Vec<u32> = ex.prompt.iter().chain(&ex.completion).copied().collect();
        let t = ids.len();
        let input = Tensor::from_vec(ids.clone(), (1, t), model.device()).unwrap();
        let positions = Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), model.device()).unwrap();
        let hidden = model.forward(&input, &positions, None, None, &Mode::Eval).unwrap();
        let logits = model.lm_head(&hidden).unwrap().squeeze(0).unwrap().to_dtype(DType::F64).unwrap();
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap().to_vec2::<f64>().unwrap();
        for j in ex.prompt.len()..t {
            sum -= log_probs[j - 1][ids[j] as usize];
            count += 1;
        }
    }
    (sum, count)
}

/// The first step's loss (before any update) is the mean over the completion tokens of the
/// whole accumulated batch, and splitting the same rows into more micro-batches changes
/// neither that loss nor the update beyond rounding.
#[test]
fn step_loss_is_the_token_mean_over_the_accumulated_batch() {
    let lora = random_model::lora(4, 0.0);
    let data = examples(8, 3);
    let run = |micro: usize, accum: usize| {
        let model = random_model::model(Some(&lora), Quantization::None);
        random_model::randomize_b(&model, 9);
        let cfg = TrainConfig {
            micro_batch_size: micro,
            grad_accum_steps: accum,
            max_steps: 1,
            warmup_steps: 0,
            max_seq_len: 64,
            ..config(None)
        };
        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), cfg).unwrap();
        // Reproduce the batcher's order: the same seed shuffles the same way, so the first
        // 4 rows of the epoch are the first micro-batches of either split.
        let mut order = rapha_engine::Batcher::new(
            data.clone(),
            rapha_engine::BatchConfig { micro_batch_size: 4, max_seq_len: 64, pad_id: 0, shuffle_seed: Some(5) },
            model.device(),
        )
        .unwrap();
        let first = order.next_batch().unwrap();
        let rows: Vec<&Example> = first_rows(&first, &data);
        let (sum, count) = reference_loss(&model, &rows);
        let report = trainer.step().unwrap();
        let adapter = trainer.adapter().unwrap();
        (report, sum / count as f64, adapter)
    };
    let (one, reference, adapter_one) = run(4, 1);
    let one_loss = one.loss.expect("a loss");
    assert!((one_loss - reference).abs() < 1e-5 * reference, "step loss {one_loss} vs reference {reference}");
    let (two, _, adapter_two) = run(2, 2);
    let two_loss = two.loss.expect("a loss");
    assert!((one_loss - two_loss).abs() < 1e-6 * one_loss, "{one_loss} vs {two_loss}");
    assert_eq!(one.scored_tokens, two.scored_tokens);
    for (name, pair) in &adapter_one.modules {
        let other = &adapter_two.modules[name];
        let diff = (&pair.a - &other.a).unwrap().abs().unwrap().max_all().unwrap().to_vec0::<f32>().unwrap();
        assert!(diff < 1e-5, "{name}: lora_A differs by {diff}");
    }
}

/// The examples of `batch`, found by their token rows (prompts are unique in these tests).
fn first_rows<'a>(batch: &Batch, data: &'a [Example]) -> Vec<&'a Example> {
    batch
        .input_ids
        .to_vec2::<u32>()
        .unwrap()
        .iter()
        .map(|row| data.iter().find(|ex| row.starts_with(&ex.prompt) && row[ex.prompt.len()..].starts_with(&ex.completion)).expect("row"))
        .collect()
}

/// Gradient checkpointing and a chunked loss give the loss of the plain path and the same
/// updates, to rounding.
#[test]
fn checkpointing_and_loss_chunks_match_the_plain_path() {
    let lora = random_model::lora(4, 0.2);
    let data = examples(9, 4);
    let run = |checkpointing: bool, chunk: Option<usize>| {
        let model = random_model::model(Some(&lora), Quantization::Nf4);
        random_model::randomize_b(&model, 3);
        let cfg = TrainConfig {
            gradient_checkpointing: checkpointing,
            loss_chunk_tokens: chunk,
            max_steps: 3,
            ..config(None)
        };
        let mut trainer = Trainer::new(&model, &lora, data.clone(), Vec::new(), cfg).unwrap();
        let summary = trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
        (summary.losses.into_iter().flatten().collect::<Vec<f64>>(), trainer.adapter().unwrap())
    };
    let (plain, plain_adapter) = run(false, None);
    for (checkpointing, chunk) in [(true, None), (false, Some(3)), (true, Some(2))] {
        let (losses, adapter) = run(checkpointing, chunk);
        for (a, b) in plain.iter().zip(&losses) {
            assert!((a - b).abs() < 1e-5 * a.abs(), "checkpointing {checkpointing}, chunk {chunk:?}: {plain:?} vs {losses:?}");
        }
        for (name, pair) in &plain_adapter.modules {
            let other = &adapter.modules[name];
            for (x, y) in [(&pair.a, &other.a), (&pair.b, &other.b)] {
                let diff = (x - y).unwrap().abs().unwrap().max_all().unwrap().to_vec0::<f32>().unwrap();
                assert!(diff < 1e-4, "checkpointing {checkpointing}, chunk {chunk:?}: `{name}` differs by {diff}");
            }
        }
    }
}

/// A NaN stops training with an error naming the step and the last good checkpoint, which
/// stays on disk intact.
#[test]
fn non_finite_loss_stops_and_keeps_the_last_checkpoint() {
    let lora = random_model::lora(2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let model = random_model::model(Some(&lora), Quantization::None);
    let cfg = TrainConfig { max_steps: 4, checkpoint_every: Some(1), ..config(Some(dir.path())) };
    let mut trainer = Trainer::new(&model, &lora, examples(6, 5), Vec::new(), cfg).unwrap();
    trainer.step().unwrap();
    trainer.save_checkpoint().unwrap();
    trainer.step().unwrap();
    let good = trainer.save_checkpoint().unwrap();
    let (_, adapter) = model.adapters().next().unwrap();
    let nan = Tensor::full(f32::NAN, adapter.a().dims(), model.device()).unwrap();
    adapter.a().set(&nan).unwrap();

    let err = trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("training diverged at step 3: loss is `NaN`; the last good checkpoint is kept at {}", good.display())
    );
    assert_eq!(trainer.step_count(), 2, "no update was applied");
    let saved = Checkpoint::load(&good, model.device()).unwrap();
    assert_eq!(saved.step, 2);
    for (name, pair) in &saved.adapter.modules {
        let finite = pair.a.to_vec2::<f32>().unwrap().iter().flatten().all(|v| v.is_finite());
        assert!(finite, "{name} in the kept checkpoint is not finite");
    }
}

/// Evaluation runs on schedule and computes the token-mean validation loss.
#[test]
fn evaluation_reports_the_validation_loss() {
    let lora = random_model::lora(2, 0.0);
    let val = examples(5, 8);
    let model = random_model::model(Some(&lora), Quantization::None);
    let cfg = TrainConfig { max_steps: 3, eval_every: Some(2), max_seq_len: 64, ..config(None) };
    let mut trainer = Trainer::new(&model, &lora, examples(6, 6), val.clone(), cfg).unwrap();
    let summary = trainer.run(&mut Silent, &AtomicBool::new(false)).unwrap();
    let steps: Vec<u64> = summary.evals.iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, vec![2, 3]);
    let rows: Vec<&Example> = val.iter().collect();
    let (sum, count) = reference_loss(&model, &rows);
    let final_eval = summary.evals[1].1;
    assert!((final_eval - sum / count as f64).abs() < 1e-5, "{final_eval} vs {}", sum / count as f64);
}

/// Stops early at the evaluation of step `at`, reading the adapter there as a run keeping
/// its best adapter does.
struct StopEarlyAt {
    at: u64,
    evaluated: Vec<u64>,
    checkpoints: Vec<u64>,
}

impl Observer for StopEarlyAt {
    type Error = rapha_engine::Error;

    fn on_eval(&mut self, trainer: &Trainer<'_>, loss: Option<f64>) -> rapha_engine::Result<Flow> {
        assert!(loss.is_some_and(f64::is_finite), "{loss:?}");
        assert!(!trainer.adapter()?.modules.is_empty());
        self.evaluated.push(trainer.step_count());
        Ok(if trainer.step_count() == self.at { Flow::Stop } else { Flow::Continue })
    }

    fn on_checkpoint(&mut self, step: u64, dir: &Path) -> rapha_engine::Result<()> {
        assert!(dir.join("trainer_state.json").is_file(), "{} is complete", dir.display());
        self.checkpoints.push(step);
        Ok(())
    }
}

/// The observer's `Flow::Stop` ends the loop at that evaluation, with a checkpoint of that
/// step; the cadence of evaluations and checkpoints before it is the configured one.
#[test]
fn an_observer_stops_training_early_with_a_checkpoint_of_that_step() {
    let lora = random_model::lora(2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let model = random_model::model(Some(&lora), Quantization::None);
    let cfg = TrainConfig { max_steps: 10, eval_every: Some(2), checkpoint_every: Some(3), ..config(Some(dir.path())) };
    let mut trainer = Trainer::new(&model, &lora, examples(6, 6), examples(3, 8), cfg).unwrap();
    let mut observer = StopEarlyAt { at: 4, evaluated: Vec::new(), checkpoints: Vec::new() };
    let summary = trainer.run(&mut observer, &AtomicBool::new(false)).unwrap();
    assert_eq!(summary.finish, Finish::StoppedEarly);
    assert_eq!(summary.steps, 4);
    assert_eq!(observer.evaluated, vec![2, 4]);
    assert_eq!(observer.checkpoints, vec![3, 4]);
    assert_eq!(summary.last_checkpoint.as_deref(), Some(dir.path().join("checkpoint-4").as_path()));
}
