"""Counting metrics that pool counts (micro averages), as the Rust SDK computes them.

Conventions, as in `rapha_task_sdk::metrics`: a ratio whose denominator is zero is 0,
except F1 with no predictions, no gold items and nothing to find, which is 1. Every
expression keeps Rust's order of operations so that the floats are the same bits.
"""


def precision(tp: float, fp: float) -> float:
    """tp / (tp + fp), or 0 when nothing was predicted."""
    return 0.0 if tp + fp == 0.0 else tp / (tp + fp)


def recall(tp: float, fn: float) -> float:
    """tp / (tp + fn), or 0 when there was nothing to find."""
    return 0.0 if tp + fn == 0.0 else tp / (tp + fn)


def f1(tp: float, fp: float, fn: float) -> float:
    """2·tp / (2·tp + fp + fn); 1 when there were no gold items and none were predicted."""
    denominator = 2.0 * tp + fp + fn
    return 1.0 if denominator == 0.0 else 2.0 * tp / denominator


def rust_sum(values) -> float:
    """The sum of floats in order, as Rust's `Iterator::sum::<f64>` adds them: one
    addition at a time from -0.0 (so an empty sum is -0.0). Python's `sum` is not
    used: since 3.12 it compensates rounding errors, which changes the last bits."""
    total = -0.0
    for value in values:
        total += value
    return total

