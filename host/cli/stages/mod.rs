//! The steps a command is made of, each usable alone: load the task plugin ([`task`]), load
//! the base model and build it for training or inference ([`base`]), read and format a
//! dataset ([`data`]), generate answers and keep them ([`predictions`]), and score them
//! ([`scoring`]). `run` strings them together with training and the export; the commands
//! that read or compare what a run made call the same steps.

pub mod audit;
pub mod base;
pub mod confine;
pub mod data;
pub mod digest;
pub mod predictions;
pub mod scoring;
pub mod task;
