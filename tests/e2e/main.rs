//! End-to-end tests: the built `rapha-host` binary, run the way a user runs it.

// `rapha-host plugin info | check | score` on the shipped and the test plugins.
mod plugins;
// A fresh work folder per test and a command around the built binary.
mod util;
