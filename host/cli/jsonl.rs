//! JSONL files, read as a stream: one JSON object per line, blank lines ignored, and
//! the file's sha256 computed over exactly the bytes read.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rapha_sandbox::input::open_regular;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The longest line read: one record, a note or a FHIR bundle, with room to spare. A longer
/// line is refused before it is held whole (a 1 GiB line once took 3 GB).
pub const MAX_LINE_BYTES: u64 = 16 << 20;

/// One non-blank line.
#[derive(Debug)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: u64,
    /// Where the line starts in the file, in bytes (for [`Rereader`]).
    pub offset: u64,
    /// The line without its end-of-line characters.
    pub text: String,
}

impl Line {
    /// The line as a JSON object, or an error naming the file, line and column.
    pub fn object(&self, file: &Path) -> anyhow::Result<Map<String, Value>> {
        match serde_json::from_str::<Value>(&self.text) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => bail!(
                "{}:{}: expected a JSON object per line, found {}",
                file.display(),
                self.number,
                json_kind(&other)
            ),
            Err(error) => bail!(
                "{}:{}:{}: expected a JSON object per line, found invalid JSON ({})",
                file.display(),
                self.number,
                error.column(),
                error_category(&error)
            ),
        }
    }
}

/// The lines of a JSONL file, read one at a time.
pub struct Reader {
    path: PathBuf,
    inner: BufReader<File>,
    hasher: Sha256,
    number: u64,
    offset: u64,
}

impl Reader {
    /// Open `path`, a regular file, for reading.
    pub fn open(path: &Path) -> anyhow::Result<Reader> {
        Ok(Reader { path: path.to_owned(), inner: open(path)?, hasher: Sha256::new(), number: 0, offset: 0 })
    }

    /// The next non-blank line, or `None` at the end of the file. A line longer than
    /// [`MAX_LINE_BYTES`] is an error, found before more than that is held in memory.
    pub fn next_line(&mut self) -> anyhow::Result<Option<Line>> {
        loop {
            let offset = self.offset;
            let Some(bytes) = read_line(&mut self.inner, &self.path, self.number + 1)? else {
                return Ok(None);
            };
            self.number += 1;
            self.offset += bytes.len() as u64;
            self.hasher.update(&bytes);
            let text = decode(bytes, &self.path, self.number)?;
            if !text.trim().is_empty() {
                return Ok(Some(Line { number: self.number, offset, text }));
            }
        }
    }

    /// Read to the end and return the sha256 of the whole file, lowercase hex.
    pub fn finish(mut self) -> anyhow::Result<String> {
        while self.next_line()?.is_some() {}
        Ok(hex::encode(self.hasher.finalize()))
    }
}

/// Lines of a JSONL file read again, in any order, at the offsets [`Reader`] gave them.
pub struct Rereader {
    path: PathBuf,
    inner: BufReader<File>,
}

impl Rereader {
    /// Open `path`, a regular file, for reading.
    pub fn open(path: &Path) -> anyhow::Result<Rereader> {
        Ok(Rereader { path: path.to_owned(), inner: open(path)? })
    }

    /// The line numbered `number` that starts at `offset`.
    pub fn line(&mut self, number: u64, offset: u64) -> anyhow::Result<Line> {
        self.inner.seek(SeekFrom::Start(offset)).with_context(|| format!("cannot read `{}`", self.path.display()))?;
        let bytes = read_line(&mut self.inner, &self.path, number)?
            .with_context(|| format!("{}:{number}: the line is gone: the file changed while it was read", self.path.display()))?;
        Ok(Line { number, offset, text: decode(bytes, &self.path, number)? })
    }
}

/// `path`, a regular file, opened for reading lines.
fn open(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = open_regular(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    Ok(BufReader::new(file))
}

/// The bytes of the next line, its end of line included; `None` at the end of the file. A
/// line longer than [`MAX_LINE_BYTES`] is an error, found before more than that is held.
fn read_line(reader: &mut BufReader<File>, path: &Path, number: u64) -> anyhow::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    let read = reader
        .take(MAX_LINE_BYTES + 1)
        .read_until(b'\n', &mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if read as u64 > MAX_LINE_BYTES {
        bail!("{}:{number}: expected a line of at most {} MiB, found a longer one", path.display(), MAX_LINE_BYTES >> 20);
    }
    Ok((read > 0).then_some(bytes))
}

/// Line `number` as text, without its end of line, and without the byte-order mark that
/// exports from Windows systems often start with.
fn decode(bytes: Vec<u8>, path: &Path, number: u64) -> anyhow::Result<String> {
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}:{number}: expected UTF-8 text", path.display()))?;
    let text = if number == 1 { text.strip_prefix('\u{feff}').unwrap_or(&text) } else { &text };
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Every non-blank line of a JSONL file; a file without any is an error.
pub fn read_all(path: &Path) -> anyhow::Result<Vec<Line>> {
    let mut reader = Reader::open(path)?;
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line()? {
        lines.push(line);
    }
    if lines.is_empty() {
        bail!("`{}`: expected at least one JSON line, found none", path.display());
    }
    Ok(lines)
}

/// A record or prediction id as text: a JSON string as is, a number as written.
pub fn id_of(object: &Map<String, Value>, file: &Path, line: &Line) -> anyhow::Result<String> {
    match object.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        Some(Value::Number(id)) => Ok(id.to_string()),
        Some(other) => bail!(
            "{}:{}: `id`: expected a non-empty string or a number, found {}",
            file.display(),
            line.number,
            json_kind(other)
        ),
        None => bail!("{}:{}: `id`: expected a field, found none", file.display(), line.number),
    }
}

/// What kind of JSON value this is, in words (never the value itself: it may be patient text).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(id) if id.is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's category of a parse error, without the text it quotes.
fn error_category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Eof => "the line ends early",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a data error",
        serde_json::error::Category::Io => "a read error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_skipped_numbered_and_hashed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("d.jsonl");
        let bytes = b"{\"id\":1}\n\n  \n{\"id\":\"b\"}\r\n";
        std::fs::write(&path, bytes).expect("write");
        let mut reader = Reader::open(&path).expect("open");
        let first = reader.next_line().expect("read").expect("a line");
        let second = reader.next_line().expect("read").expect("a line");
        assert_eq!((first.number, second.number), (1, 4));
        assert_eq!(second.text, "{\"id\":\"b\"}");
        assert!(reader.next_line().expect("read").is_none());
        assert_eq!(reader.finish().expect("hash"), hex::encode(Sha256::digest(bytes)));
    }

    #[test]
    fn a_byte_order_mark_opens_the_first_line_and_is_hashed_as_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("d.jsonl");
        let bytes = "\u{feff}{\"id\":1}\r\n{\"id\":2}\n".as_bytes();
        std::fs::write(&path, bytes).expect("write");
        let mut reader = Reader::open(&path).expect("open");
        let first = reader.next_line().expect("read").expect("a line");
        assert_eq!(first.text, "{\"id\":1}");
        assert!(first.object(&path).is_ok());
        assert_eq!(reader.finish().expect("hash"), hex::encode(Sha256::digest(bytes)));
    }

    #[test]
    fn a_line_over_the_cap_is_refused_naming_file_line_and_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("d.jsonl");
        let mut bytes = b"{\"id\":1}\n".to_vec();
        bytes.resize(bytes.len() + MAX_LINE_BYTES as usize + 1, b' ');
        std::fs::write(&path, &bytes).expect("write");
        let mut reader = Reader::open(&path).expect("open");
        assert!(reader.next_line().expect("read").is_some());
        let error = reader.next_line().expect_err("too long");
        assert_eq!(
            error.to_string(),
            format!("{}:2: expected a line of at most 16 MiB, found a longer one", path.display())
        );
    }

    #[test]
    fn ids_are_strings_or_numbers() {
        let line = Line { number: 3, offset: 0, text: String::new() };
        let file = Path::new("p.jsonl");
        let object = |value: Value| value.as_object().expect("an object").clone();
        assert_eq!(id_of(&object(serde_json::json!({"id": "a-1"})), file, &line).expect("string id"), "a-1");
        assert_eq!(id_of(&object(serde_json::json!({"id": 7})), file, &line).expect("number id"), "7");
        let missing = id_of(&object(serde_json::json!({})), file, &line).expect_err("no id");
        assert_eq!(missing.to_string(), "p.jsonl:3: `id`: expected a field, found none");
    }

    #[test]
    fn errors_name_file_line_and_column_but_not_the_text() {
        let line = Line { number: 7, offset: 0, text: "{\"note\": \"Mrs Smith\" oops}".to_owned() };
        let message = line.object(Path::new("train.jsonl")).expect_err("invalid").to_string();
        assert!(message.starts_with("train.jsonl:7:22: expected a JSON object per line"), "{message}");
        assert!(!message.contains("Smith"), "{message}");
        let array = Line { number: 2, offset: 0, text: "[1]".to_owned() };
        let message = array.object(Path::new("t.jsonl")).expect_err("not an object").to_string();
        assert_eq!(message, "t.jsonl:2: expected a JSON object per line, found an array");
    }
}
