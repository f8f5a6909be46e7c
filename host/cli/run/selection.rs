//! Which evaluation is best, and when to stop: the recipe's `select_metric` (the
//! validation loss or one of the plugin's metrics, in the direction the plugin
//! declares) and its `patience`.

use crate::run::journal::EvalLine;

/// The quantity that ranks evaluations.
#[derive(Debug, Clone)]
pub struct Selection {
    /// `eval_loss` or a plugin metric's name.
    pub metric: String,
    /// Whether larger is better.
    pub higher_is_better: bool,
    /// Evaluations without improvement before training stops; `None` never stops early.
    pub patience: Option<u64>,
}

impl Selection {
    /// The ranked value of `eval`; `None` when the plugin did not return the metric.
    pub fn value(&self, eval: &EvalLine) -> Option<f64> {
        if self.metric == "eval_loss" {
            return Some(eval.eval_loss);
        }
        eval.metrics.iter().find(|(name, _)| *name == self.metric).map(|(_, value)| *value)
    }

    /// The best evaluation: the earliest of those with the best value.
    pub fn best<'a>(&self, evals: &'a [EvalLine]) -> Option<&'a EvalLine> {
        let mut best: Option<(&EvalLine, f64)> = None;
        for eval in evals {
            let Some(value) = self.value(eval) else { continue };
            let better = match best {
                None => true,
                Some((_, held)) if self.higher_is_better => value > held,
                Some((_, held)) => value < held,
            };
            if better {
                best = Some((eval, value));
            }
        }
        best.map(|(eval, _)| eval)
    }

    /// Whether `candidate` would be the new best after `evals`.
    pub fn improves(&self, evals: &[EvalLine], candidate: &EvalLine) -> bool {
        let Some(value) = self.value(candidate) else { return false };
        match self.best(evals).and_then(|best| self.value(best)) {
            None => true,
            Some(held) if self.higher_is_better => value > held,
            Some(held) => value < held,
        }
    }

    /// Whether the evaluations so far exhaust the patience: that many evaluations since
    /// the best one, none better.
    pub fn exhausted(&self, evals: &[EvalLine]) -> bool {
        let (Some(patience), Some(best)) = (self.patience, self.best(evals)) else { return false };
        let since = evals.iter().filter(|eval| eval.step > best.step).count() as u64;
        since >= patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(step: u64, loss: f64, f1: f64) -> EvalLine {
        EvalLine { step, eval_loss: loss, metrics: vec![("f1".into(), f1)], records: 20 }
    }

    #[test]
    fn loss_is_minimised_and_a_plugin_metric_follows_its_direction() {
        let evals = [eval(10, 2.0, 0.1), eval(20, 1.5, 0.4), eval(30, 1.7, 0.4), eval(40, 1.8, 0.3)];
        let by_loss = Selection { metric: "eval_loss".into(), higher_is_better: false, patience: Some(2) };
        assert_eq!(by_loss.best(&evals).map(|e| e.step), Some(20));
        assert!(by_loss.exhausted(&evals));
        assert!(!by_loss.exhausted(&evals[..3]));
        let by_f1 = Selection { metric: "f1".into(), higher_is_better: true, patience: None };
        assert_eq!(by_f1.best(&evals).map(|e| e.step), Some(20), "ties keep the earliest");
        assert!(!by_f1.exhausted(&evals), "no patience never stops");
        let missing = Selection { metric: "rouge1".into(), higher_is_better: true, patience: Some(1) };
        assert!(missing.best(&evals).is_none());
        assert!(by_loss.improves(&evals, &eval(50, 1.4, 0.0)));
        assert!(!by_loss.improves(&evals, &eval(50, 1.5, 0.0)), "a tie is no improvement");
        assert!(by_f1.improves(&[], &eval(50, 9.0, 0.0)));
    }
}
