//! End-to-end tests: the built `rapha-host` binary, run the way a user runs it.

// `rapha-host plugin new | bindings | componentize`: the author's kit.
mod author;
// `rapha-host compare`: intervals, paired tests and Holm against a plain computation.
mod compare;
// `rapha-host doctor`: the kernel protections a run would get.
mod doctor;
// `rapha-host eval`: candidates × plugins × datasets, item-aligned, answers cached.
mod eval;
// `keys new`, a federated `run` round and `aggregate`: signed replies, exact FFA-LoRA.
mod federation;
// Plugins in Python, JavaScript and C: `plugin check`, and the Rust plugins' bits.
mod languages;
// `plugin new` in every language, a metric added, its own test.sh, `plugin score`.
mod newcomer;
// `rapha-host plugin info | check | score` on the shipped and the test plugins.
mod plugins;
// `rapha-host predict`: a run's answers reproduced from its export, a stopped file continued.
mod predict;
// `rapha-host run`: small real runs checked file by file, their refusals, hostile plugins.
mod run;
// A fresh work folder per test and a command around the built binary.
mod util;
