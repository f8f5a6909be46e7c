//! Integration tests of `rapha-task-host` against real components (built by
//! `rapha-plugin-artifacts`): the four task plugins and the test plugins that misbehave on
//! purpose.

mod agreement;
mod cache;
mod denials;
mod determinism;
mod load;
mod misbehave;
mod task_plugins;
mod util;
