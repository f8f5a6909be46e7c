//! Opening what a user names as an input (a recipe, a dataset, a plugin, a model file): a
//! regular file only, and never more bytes than a cap.
//!
//! A FIFO or a character device named as an input would block a run forever or feed it
//! without end (`/dev/zero` as a plugin fills memory). [`open_regular`] opens without
//! blocking (`O_NONBLOCK`, which reads from a regular file ignore) and refuses anything but a
//! regular file before a byte is read; [`read_capped`] also refuses a file larger than its cap
//! before reading it, and stops at the cap if the file grows meanwhile.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Open `path` for reading if it is a regular file (after following links); otherwise an
/// [`io::ErrorKind::InvalidInput`] error saying what it is.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let found = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a folder"
    } else {
        "something else"
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("expected a regular file, found {found}")))
}

/// The whole regular file at `path`, or an [`io::ErrorKind::FileTooLarge`] error naming `cap`
/// when it holds more than `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > cap {
        return Err(too_large(cap, &format!("{size} bytes")));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(cap, "more, read while it grew"));
    }
    Ok(bytes)
}

fn too_large(cap: u64, found: &str) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, format!("expected at most {cap} bytes, found {found}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_device_and_a_folder_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let fifo = dir.path().join("records.jsonl");
        let name = std::ffi::CString::new(fifo.to_str().expect("UTF-8 path")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
        for (path, found) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a folder"),
        ] {
            let error = read_capped(path, 1 << 20).expect_err("not a regular file");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{}", path.display());
            assert_eq!(error.to_string(), format!("expected a regular file, found {found}"));
        }
    }

    #[test]
    fn a_file_over_its_cap_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("recipe.toml");
        std::fs::write(&path, vec![b'#'; 2048]).expect("write");
        assert_eq!(read_capped(&path, 2048).expect("at the cap").len(), 2048);
        let error = read_capped(&path, 1024).expect_err("over the cap");
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(error.to_string(), "expected at most 1024 bytes, found 2048 bytes");
    }
}
