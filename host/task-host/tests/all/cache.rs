//! The compiled-component cache: a second load hits it; a corrupted or foreign file is
//! rejected, recompiled and rewritten, never executed.

use std::fs;
use std::path::{Path, PathBuf};

use rapha_plugin_artifacts::MISBEHAVE;
use rapha_task_host::{CacheStatus, TaskHost, TaskPlugin};

use crate::util::{behaviour, tight_limits};

fn host(cache: &Path, logs: &Path) -> TaskHost {
    TaskHost::new(tight_limits(), cache, logs).expect("host starts")
}

fn load(cache: &Path, logs: &Path) -> TaskPlugin {
    TaskPlugin::load(&host(cache, logs), MISBEHAVE).expect("loads")
}

fn only_cache_file(cache: &Path) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(cache)
        .expect("cache folder exists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("cwasm"), "{files:?}");
    files[0].clone()
}

fn assert_works(plugin: &mut TaskPlugin) {
    let formatted = plugin.format_example(0, &behaviour("ok")).expect("the plugin runs");
    assert_eq!(formatted.completion, r#""ok""#);
}

#[test]
fn a_second_load_hits_the_cache() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (cache, logs) = (dir.path().join("cache"), dir.path().join("logs"));
    assert_eq!(load(&cache, &logs).cache_status(), CacheStatus::Miss);
    let mut second = load(&cache, &logs);
    assert_eq!(second.cache_status(), CacheStatus::Hit);
    assert_works(&mut second);
}

#[test]
fn a_corrupted_cache_file_is_rejected_and_recompiled() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (cache, logs) = (dir.path().join("cache"), dir.path().join("logs"));
    load(&cache, &logs);
    let file = only_cache_file(&cache);
    let mut bytes = fs::read(&file).expect("read cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&file, &bytes).expect("corrupt cache file");

    let mut rejected = load(&cache, &logs);
    assert_eq!(rejected.cache_status(), CacheStatus::Rejected);
    assert_works(&mut rejected);
    assert_ne!(fs::read(&file).expect("rewritten"), bytes, "the cache file was rewritten");
    assert_eq!(load(&cache, &logs).cache_status(), CacheStatus::Hit);
}

#[test]
fn a_foreign_or_truncated_cache_file_is_rejected() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (cache, logs) = (dir.path().join("cache"), dir.path().join("logs"));
    load(&cache, &logs);
    let file = only_cache_file(&cache);
    let bytes = fs::read(&file).expect("read cache file");

    fs::write(&file, &bytes[..bytes.len() / 3]).expect("truncate");
    assert_eq!(load(&cache, &logs).cache_status(), CacheStatus::Rejected);

    fs::write(&file, b"\x7fELF\x02\x01\x01 not a cache file of ours").expect("foreign file");
    let mut foreign = load(&cache, &logs);
    assert_eq!(foreign.cache_status(), CacheStatus::Rejected);
    assert_works(&mut foreign);
}
