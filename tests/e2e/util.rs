//! The harness, after ripgrep's `tests/util.rs`: a fresh temporary folder per test, a
//! command around the built `rapha-host` that uses `<folder>/work` as its work folder,
//! and `eqnice!`, an assert that prints both sides in full.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Command};

use tempfile::TempDir;

/// Assert two strings are equal, printing both in full when they are not.
#[macro_export]
macro_rules! eqnice {
    ($expected:expr, $got:expr) => {{
        let expected: &str = &$expected;
        let got: &str = &$got;
        if expected != got {
            panic!("\n\nexpected:\n{}\n\ngot:\n{}\n\n", expected, got);
        }
    }};
}

/// A temporary folder for one test.
pub struct Dir {
    dir: TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The work folder the command uses.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Write `contents` to `name` in the folder; its path.
    pub fn create(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|error| panic!("cannot write `{}`: {error}", path.display()));
        path
    }

    /// `rapha-host --work <folder>/work`, run in the folder.
    pub fn command(&self) -> Cmd {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rapha-host"));
        cmd.current_dir(self.dir.path()).arg("--work").arg(self.work());
        Cmd { cmd }
    }

    /// [`Dir::command`] under a file-size limit of `blocks` (`ulimit -f`, set by `sh`).
    pub fn command_with_file_size_limit(&self, blocks: u32) -> Cmd {
        let mut cmd = Command::new("sh");
        cmd.current_dir(self.dir.path())
            .args(["-c", &format!("ulimit -f {blocks} && exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_rapha-host"))
            .arg("--work")
            .arg(self.work());
        Cmd { cmd }
    }
}

/// A command around the built binary.
pub struct Cmd {
    cmd: Command,
}

/// What a finished command printed and returned.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub fn args<I, S>(&mut self, args: I) -> &mut Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// A flag and its value, e.g. `--out <path>`.
    pub fn arg_pair(&mut self, flag: &str, value: &Path) -> &mut Cmd {
        self.cmd.arg(flag).arg(value);
        self
    }

    pub fn output(&mut self) -> Output {
        let output: process::Output = self.cmd.output().expect("rapha-host runs");
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Run to the end; what it printed and returned, and its peak resident memory in KiB,
    /// read from `VmHWM` in `/proc/<pid>/status` every few milliseconds while it runs. (The
    /// `ru_maxrss` that `wait4` gives would also count the test process's memory, which the
    /// child shared until its `exec`.)
    pub fn output_and_peak_rss(&mut self, out: &Path, err: &Path) -> (Output, u64) {
        let mut spawned = self.spawn(out, err);
        let status = format!("/proc/{}/status", spawned.child.id());
        let mut peak = 0;
        while spawned.child.try_wait().expect("poll the child").is_none() {
            let high_water = fs::read_to_string(&status).ok().and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            });
            peak = peak.max(high_water.unwrap_or(0));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        (spawned.wait(), peak)
    }

    /// Run, assert success; stdout.
    pub fn stdout(&mut self) -> String {
        let output = self.output();
        if output.code != Some(0) {
            panic!(
                "\n\n{:?} failed with {:?}\n\nstdout:\n{}\n\nstderr:\n{}\n",
                self.cmd, output.code, output.stdout, output.stderr
            );
        }
        output.stdout
    }

    /// Run, assert it exits with `code`; the output.
    pub fn fails_with(&mut self, code: i32) -> Output {
        let output = self.output();
        if output.code != Some(code) {
            panic!(
                "\n\n{:?}: expected exit code {code}, found {:?}\n\nstdout:\n{}\n\nstderr:\n{}\n",
                self.cmd, output.code, output.stdout, output.stderr
            );
        }
        output
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A task's validation dataset: `data/<task>/val.jsonl` once generated, else the small
/// fixture `tests/data/plugins/<task>.jsonl`.
pub fn dataset(task: &str) -> PathBuf {
    let generated = root().join("data").join(task).join("val.jsonl");
    if generated.exists() {
        generated
    } else {
        root().join("tests/data/plugins").join(format!("{task}.jsonl"))
    }
}

impl Cmd {
    /// Start without waiting; stdout and stderr go to the files `out` and `err`, so a long
    /// run never blocks on a full pipe while the test watches its work folder.
    pub fn spawn(&mut self, out: &Path, err: &Path) -> Spawned {
        let file = |path: &Path| {
            fs::File::create(path).unwrap_or_else(|error| panic!("cannot create `{}`: {error}", path.display()))
        };
        let child = self
            .cmd
            .stdout(file(out))
            .stderr(file(err))
            .spawn()
            .expect("rapha-host starts");
        Spawned { child, out: out.to_owned(), err: err.to_owned() }
    }
}

/// A command started by [`Cmd::spawn`].
pub struct Spawned {
    pub child: process::Child,
    out: PathBuf,
    err: PathBuf,
}

impl Spawned {
    /// Send `signal` (a name `kill -s` knows, e.g. `INT`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -s {signal} {} failed: {status}", self.child.id());
    }

    /// Wait for the exit; what it printed and returned.
    pub fn wait(mut self) -> Output {
        let status = self.child.wait().expect("wait for rapha-host");
        let read = |path: &Path| {
            fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
        };
        Output { code: status.code(), stdout: read(&self.out), stderr: read(&self.err) }
    }
}
