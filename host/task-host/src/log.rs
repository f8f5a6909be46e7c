//! The plugin's log file: the only place a plugin's text goes.
//!
//! A plugin's stdout and stderr, its error strings and its violation reasons may quote
//! patient text, so none of it reaches the terminal or tracing. It is appended to
//! `<log_dir>/plugin-<name>.log` (the component's file name), capped at
//! [`crate::Limits::log_bytes`] per loaded plugin; beyond the cap output is dropped after one
//! marker line. The guest is never told its output was dropped: a Rust plugin whose
//! `println!` failed would panic.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::error::{Error, Result};

const HOST_PREFIX: &str = "[rapha-task-host] ";

/// A handle to one plugin's log file; clones write to the same file under the same cap.
#[derive(Clone)]
pub(crate) struct PluginLog {
    path: Arc<Path>,
    state: Arc<Mutex<LogState>>,
}

struct LogState {
    file: File,
    written: u64,
    cap: u64,
    truncated: bool,
    /// What the guest wrote during the current call, its last [`CALL_OUTPUT_BYTES`]: the
    /// message of a trap (a Python traceback) that an author's command shows.
    call_output: Vec<u8>,
}

/// Bytes of a call's own output kept for [`PluginLog::call_tail`].
const CALL_OUTPUT_BYTES: usize = 8 << 10;

impl PluginLog {
    /// Open (append to) the log of the component at `component`, under `dir`.
    pub(crate) fn open(dir: &Path, component: &Path, cap: u64) -> Result<Self> {
        let path = dir.join(format!("plugin-{}.log", file_label(component)));
        let open = || -> io::Result<File> {
            fs::create_dir_all(dir)?;
            OpenOptions::new().create(true).append(true).open(&path)
        };
        let file = open().map_err(|source| Error::Log {
            path: path.clone(),
            source,
        })?;
        Ok(PluginLog {
            path: path.into(),
            state: Arc::new(Mutex::new(LogState {
                file,
                written: 0,
                cap,
                truncated: false,
                call_output: Vec::new(),
            })),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A line from the host (a denial, a trap's details, a guest error's text).
    pub(crate) fn note(&self, line: &str) {
        let mut text = String::with_capacity(HOST_PREFIX.len() + line.len() + 1);
        text.push_str(HOST_PREFIX);
        text.push_str(line);
        text.push('\n');
        self.append(text.as_bytes());
    }

    /// A load of the component begins a section of the log: one file name may be rebuilt
    /// many times, so the header names the bytes (their sha256) whose output follows.
    pub(crate) fn section(&self, title: &str) {
        self.append(format!("\n{HOST_PREFIX}==== {title}\n").as_bytes());
    }

    /// A call begins: what the guest writes from now on is its output.
    pub(crate) fn begin_call(&self) {
        self.lock().call_output.clear();
    }

    /// The last `lines` non-empty lines the guest wrote during the latest call, each cut to
    /// 240 characters. Plugin text: for an author's commands on the author's own data, never
    /// for a run's output.
    pub(crate) fn call_tail(&self, lines: usize) -> Vec<String> {
        let state = self.lock();
        let text = String::from_utf8_lossy(&state.call_output);
        let kept: Vec<String> =
            text.lines().filter(|line| !line.trim().is_empty()).map(|line| line.chars().take(240).collect()).collect();
        kept[kept.len().saturating_sub(lines)..].to_vec()
    }

    /// Bytes the guest wrote to stdout or stderr, as they are.
    fn guest_output(&self, bytes: &[u8]) {
        {
            let mut state = self.lock();
            state.call_output.extend_from_slice(bytes);
            let excess = state.call_output.len().saturating_sub(CALL_OUTPUT_BYTES);
            state.call_output.drain(..excess);
        }
        self.append(bytes);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // The log is append-only bytes and counters: a panic while the lock was held cannot
        // leave it inconsistent, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, bytes: &[u8]) {
        let mut state = self.lock();
        if state.truncated {
            return;
        }
        let room = state.cap.saturating_sub(state.written);
        let fits = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
        let mut result = state.file.write_all(&bytes[..fits]);
        state.written += fits as u64;
        if fits < bytes.len() {
            state.truncated = true;
            let marker = format!(
                "\n{HOST_PREFIX}log cap of {} bytes reached; further output is dropped\n",
                state.cap
            );
            result = result.and_then(|()| state.file.write_all(marker.as_bytes()));
        }
        if let Err(error) = result {
            // Losing the log must not stop the run, and its content must not go
            // elsewhere: say only that writing failed.
            tracing::warn!(path = %self.path.display(), %error, "cannot write the plugin log");
        }
    }
}

/// The component's file stem, reduced to `[A-Za-z0-9_-]` so it is a safe file name.
fn file_label(component: &Path) -> String {
    let stem = component
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    if label.is_empty() { "component".to_owned() } else { label }
}

/// The guest's stdout or stderr: writes go to the plugin's log.
#[derive(Clone)]
pub(crate) struct GuestStream(pub(crate) PluginLog);

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStream {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.guest_output(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: writes beyond the log cap are dropped, not refused.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for GuestStream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.0.guest_output(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_beyond_the_cap_is_dropped_after_one_marker() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let log = PluginLog::open(dir.path(), Path::new("x/my plugin.wasm"), 10).expect("open");
        assert_eq!(log.path(), dir.path().join("plugin-my_plugin.log"));
        log.guest_output(b"0123456");
        log.guest_output(b"789abcdef");
        log.guest_output(b"more");
        let text = fs::read_to_string(log.path()).expect("read log");
        assert_eq!(
            text,
            "0123456789\n[rapha-task-host] log cap of 10 bytes reached; further output is dropped\n"
        );
    }
}
