//! Tokenizer and chat template, as transformers applies them.
//!
//! The tokenizer is a `tokenizers::Tokenizer`: read from `tokenizer.json`, or built from
//! GGUF metadata by candle's `quantized::tokenizer` with the pre-tokenizer transformers'
//! `gguf_tokenizer_mapping.py` gives the file's `tokenizer.ggml.pre`.
//!
//! The chat template is rendered with minijinja set up like transformers'
//! `_cached_compile_jinja_template` (`utils/chat_template_utils.py`): `trim_blocks` and
//! `lstrip_blocks`, loop controls, Python string methods (`minijinja_contrib::pycompat`),
//! a `tojson` that writes what Python's `json.dumps` writes, `raise_exception`, and the
//! special tokens (`bos_token`, `eos_token`, ...) in the context. As with
//! `apply_chat_template(..., tokenize=True)`, the rendered text is then encoded with
//! `add_special_tokens = false`: the template already wrote the special tokens.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use minijinja::value::{Kwargs, Value as JinjaValue};
use minijinja::{Environment, ErrorKind};
use serde::{Deserialize, Serialize};
use tokenizers::SplitDelimiterBehavior;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};

use crate::error::{Error, Result};
use crate::json_file::read_json;

/// The split transformers uses for Llama 3 style byte-level vocabularies
/// (`_LLAMA3_SPLIT` in `gguf_tokenizer_mapping.py`).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// The named special tokens a chat template sees.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpecialTokens {
    pub(crate) bos: Option<String>,
    pub(crate) eos: Option<String>,
    pub(crate) unk: Option<String>,
    pub(crate) pad: Option<String>,
}

/// Tokenizer, special tokens and chat template of one model.
#[derive(Debug)]
pub struct Tokenizer {
    origin: PathBuf,
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
    eos_token_ids: Vec<u32>,
    chat: Option<Environment<'static>>,
    chat_template: Option<String>,
}

/// Name of the compiled chat template inside its environment.
const TEMPLATE: &str = "chat";

impl Tokenizer {
    /// Read the tokenizer files of a Hugging Face model directory (`tokenizer.json`,
    /// `tokenizer_config.json`, `chat_template.jinja`); `extra_eos_ids` (a config's or
    /// generation config's) join the tokenizer's own EOS token as stop tokens.
    pub fn from_hf_dir(dir: &Path, extra_eos_ids: &[u32]) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let inner = read_tokenizer_json(&path)?;
        let config_path = dir.join("tokenizer_config.json");
        let raw: RawTokenizerConfig = if config_path.is_file() {
            read_json(&config_path)?
        } else {
            RawTokenizerConfig::default()
        };
        let special = SpecialTokens {
            bos: raw.bos_token.and_then(RawToken::into_content),
            eos: raw.eos_token.and_then(RawToken::into_content),
            unk: raw.unk_token.and_then(RawToken::into_content),
            pad: raw.pad_token.and_then(RawToken::into_content),
        };
        let jinja = dir.join("chat_template.jinja");
        let template = if jinja.is_file() {
            Some(std::fs::read_to_string(&jinja).map_err(|source| Error::Io {
                path: jinja,
                source,
            })?)
        } else {
            raw.chat_template.and_then(RawChatTemplate::into_default)
        };
        Self::new(dir.to_path_buf(), inner, special, extra_eos_ids, template)
    }

    pub(crate) fn new(
        origin: PathBuf,
        inner: tokenizers::Tokenizer,
        special: SpecialTokens,
        extra_eos: &[u32],
        template: Option<String>,
    ) -> Result<Self> {
        let mut eos_token_ids: Vec<u32> = special
            .eos
            .as_deref()
            .and_then(|t| inner.token_to_id(t))
            .into_iter()
            .collect();
        for &id in extra_eos {
            if !eos_token_ids.contains(&id) {
                eos_token_ids.push(id);
            }
        }
        let chat = match template.clone() {
            Some(source) => {
                Some(
                    chat_environment(source).map_err(|source| Error::ChatTemplate {
                        origin: origin.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            origin,
            inner,
            special,
            eos_token_ids,
            chat,
            chat_template: template,
        })
    }

    /// Token ids of `text`; `add_special_tokens` runs the post-processor (e.g. a BOS).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|source| Error::Tokenizer {
                context: "encoding".to_owned(),
                source,
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`, optionally without special tokens.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|source| Error::Tokenizer {
                context: "decoding".to_owned(),
                source,
            })
    }

    /// Render `messages` with the model's chat template, ending with the assistant
    /// header when `add_generation_prompt` is set.
    pub fn apply_chat_template(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let env = self.chat.as_ref().ok_or_else(|| Error::NoChatTemplate {
            origin: self.origin.clone(),
        })?;
        let template = env
            .get_template(TEMPLATE)
            .expect("the chat template was added when the tokenizer was built");
        let context = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.special.bos,
            eos_token => self.special.eos,
            unk_token => self.special.unk,
            pad_token => self.special.pad,
        };
        template
            .render(context)
            .map_err(|source| Error::ChatTemplate {
                origin: self.origin.clone(),
                source,
            })
    }

    /// [`Self::apply_chat_template`] then [`Self::encode`] without special tokens, as
    /// transformers' `apply_chat_template(..., tokenize=True)` does.
    pub fn encode_chat(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        self.encode(
            &self.apply_chat_template(messages, add_generation_prompt)?,
            false,
        )
    }

    /// Id of `token`, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// BOS token id, if the model has one.
    pub fn bos_token_id(&self) -> Option<u32> {
        self.special
            .bos
            .as_deref()
            .and_then(|t| self.inner.token_to_id(t))
    }

    /// Padding token id, if the model names one.
    pub fn pad_token_id(&self) -> Option<u32> {
        self.special
            .pad
            .as_deref()
            .and_then(|t| self.inner.token_to_id(t))
    }

    /// Tokens that end generation: the tokenizer's EOS and the config's.
    pub fn eos_token_ids(&self) -> &[u32] {
        &self.eos_token_ids
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The tokenizer as `tokenizer.json` text (Hugging Face's format), for libraries that
    /// build their own view of the vocabulary from it (constrained decoding).
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(false).map_err(|source| Error::Tokenizer { context: "serialising the tokenizer".to_owned(), source })
    }

    /// Write `tokenizer.json` and `tokenizer_config.json` (special tokens and chat
    /// template) into `dir`, the files a Hugging Face model directory carries, so a model
    /// read from GGUF can be exported as one.
    pub fn save_hf(&self, dir: &Path) -> Result<()> {
        let path = dir.join("tokenizer.json");
        self.inner
            .save(&path, false)
            .map_err(|source| Error::Tokenizer {
                context: format!("writing {}", path.display()),
                source,
            })?;
        let mut config = serde_json::Map::new();
        config.insert(
            "tokenizer_class".to_owned(),
            "PreTrainedTokenizerFast".into(),
        );
        for (key, token) in [
            ("bos_token", &self.special.bos),
            ("eos_token", &self.special.eos),
            ("unk_token", &self.special.unk),
            ("pad_token", &self.special.pad),
        ] {
            if let Some(token) = token {
                config.insert(key.to_owned(), token.clone().into());
            }
        }
        if let Some(template) = &self.chat_template {
            config.insert("chat_template".to_owned(), template.clone().into());
        }
        config.sort_keys();
        let path = dir.join("tokenizer_config.json");
        let text = serde_json::to_string_pretty(&config).expect("a JSON map always serializes");
        std::fs::write(&path, text + "\n").map_err(|source| Error::Io { path, source })
    }

    /// Whether a chat template is available.
    pub fn has_chat_template(&self) -> bool {
        self.chat.is_some()
    }
}

/// transformers' byte-level pre-tokenizer for a GGUF `tokenizer.ggml.pre`: a Llama 3
/// split for the names it maps to `_LLAMA3_SPLIT`, GPT-2's own regex otherwise. candle's
/// default adds a prefix space, which transformers does not.
pub(crate) fn byte_level_pre_tokenizer(
    pre: &str,
    add_prefix_space: bool,
) -> std::result::Result<PreTokenizerWrapper, tokenizers::Error> {
    Ok(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "smaug-bpe" => {
            let split = Split::new(
                SplitPattern::Regex(LLAMA3_SPLIT.to_owned()),
                SplitDelimiterBehavior::Isolated,
                false,
            )?;
            Sequence::new(vec![
                split.into(),
                ByteLevel::new(false, true, false).into(),
            ])
            .into()
        }
        _ => ByteLevel::new(add_prefix_space, true, true).into(),
    })
}

/// minijinja configured as transformers configures jinja2 for chat templates.
fn chat_environment(source: String) -> std::result::Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_filter("tojson", tojson);
    env.add_function(
        "raise_exception",
        |message: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        },
    );
    env.add_template_owned(TEMPLATE, source)?;
    Ok(env)
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=None, separators=None,
/// sort_keys=False)` with those keywords accepted, as transformers' `tojson` filter.
fn tojson(value: JinjaValue, kwargs: Kwargs) -> std::result::Result<String, minijinja::Error> {
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let (item, key) = match separators.as_deref() {
        Some([item, key]) => (item.clone(), key.clone()),
        Some(_) => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "tojson: `separators` takes two strings",
            ));
        }
        None if indent.is_some() => (",".to_owned(), ": ".to_owned()),
        None => (", ".to_owned(), ": ".to_owned()),
    };
    let style = JsonStyle {
        ensure_ascii: ensure_ascii.unwrap_or(false),
        indent,
        sort_keys: sort_keys.unwrap_or(false),
        item,
        key,
    };
    let mut out = String::new();
    style.write(&json, 0, &mut out);
    Ok(out)
}

/// The formatting choices of Python's `json.dumps`.
struct JsonStyle {
    ensure_ascii: bool,
    indent: Option<usize>,
    sort_keys: bool,
    item: String,
    key: String,
}

impl JsonStyle {
    fn newline(&self, depth: usize, out: &mut String) {
        if let Some(width) = self.indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    }

    fn string(&self, s: &str, out: &mut String) {
        let escaped = serde_json::to_string(s).expect("a string always serializes");
        if !self.ensure_ascii {
            out.push_str(&escaped);
            return;
        }
        for c in escaped.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }

    fn write(&self, value: &serde_json::Value, depth: usize, out: &mut String) {
        use serde_json::Value as J;
        match value {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Number(n) => out.push_str(&n.to_string()),
            J::String(s) => self.string(s, out),
            J::Array(items) if items.is_empty() => out.push_str("[]"),
            J::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item);
                    }
                    self.newline(depth + 1, out);
                    self.write(item, depth + 1, out);
                }
                self.newline(depth, out);
                out.push(']');
            }
            J::Object(map) if map.is_empty() => out.push_str("{}"),
            J::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.item);
                    }
                    self.newline(depth + 1, out);
                    self.string(k, out);
                    out.push_str(&self.key);
                    self.write(v, depth + 1, out);
                }
                self.newline(depth, out);
                out.push('}');
            }
        }
    }
}

/// `tokenizer_config.json`, the parts that matter here.
#[derive(Debug, Default, Deserialize)]
struct RawTokenizerConfig {
    bos_token: Option<RawToken>,
    eos_token: Option<RawToken>,
    unk_token: Option<RawToken>,
    pad_token: Option<RawToken>,
    chat_template: Option<RawChatTemplate>,
}

/// A special token, written as its text or as a serialized `AddedToken`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawToken {
    Text(String),
    Added { content: String },
}

impl RawToken {
    fn into_content(self) -> Option<String> {
        match self {
            Self::Text(s) | Self::Added { content: s } => Some(s),
        }
    }
}

/// One template, or several named ones of which transformers uses `default`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawChatTemplate {
    One(String),
    Named(Vec<NamedTemplate>),
}

#[derive(Debug, Deserialize)]
struct NamedTemplate {
    name: String,
    template: String,
}

impl RawChatTemplate {
    fn into_default(self) -> Option<String> {
        match self {
            Self::One(s) => Some(s),
            Self::Named(list) => list
                .into_iter()
                .find(|t| t.name == "default")
                .map(|t| t.template),
        }
    }
}

/// The largest `tokenizer.json` read: vocabularies of a few hundred thousand tokens take tens
/// of MiB; a larger file is refused before it is read.
const MAX_TOKENIZER_BYTES: u64 = 256 << 20;

/// Parse `tokenizer.json` at `path`: a regular file of at most [`MAX_TOKENIZER_BYTES`], its
/// SentencePiece `Precompiled` normalizers checked first (tokenizers panics on one it cannot
/// parse; here it is an error naming the file and the field).
fn read_tokenizer_json(path: &Path) -> Result<tokenizers::Tokenizer> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_TOKENIZER_BYTES {
        let found = if meta.is_file() { format!("{} bytes", meta.len()) } else { "not a regular file".to_owned() };
        let reason = format!("expected a regular file of at most {MAX_TOKENIZER_BYTES} bytes, found {found}");
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason)));
    }
    let mut text = String::new();
    std::fs::File::open(path).and_then(|file| file.take(MAX_TOKENIZER_BYTES).read_to_string(&mut text)).map_err(io)?;
    let error = |pointer: String, source: tokenizers::Error| Error::Tokenizer {
        context: if pointer.is_empty() { path.display().to_string() } else { format!("{}: `{pointer}`", path.display()) },
        source,
    };
    // Parsed a second time only when it may hold one, which few tokenizers do.
    if text.contains("\"Precompiled\"") {
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
        if let Some(normalizer) = value.get("normalizer") {
            check_precompiled(normalizer, "/normalizer".to_owned()).map_err(|(pointer, source)| error(pointer, source))?;
        }
    }
    tokenizers::Tokenizer::from_str(&text).map_err(|source| error(String::new(), source))
}

/// Parse every `Precompiled` normalizer in `normalizer` (nested in `Sequence`s) on its own.
fn check_precompiled(normalizer: &serde_json::Value, pointer: String) -> std::result::Result<(), (String, tokenizers::Error)> {
    match normalizer.get("type").and_then(serde_json::Value::as_str) {
        Some("Precompiled") => serde_json::from_value::<tokenizers::normalizers::precompiled::Precompiled>(normalizer.clone())
            .map(drop)
            .map_err(|e| (pointer, format!("a SentencePiece `Precompiled` normalizer that cannot be read: {e}").into())),
        Some("Sequence") => {
            let inner = normalizer.get("normalizers").and_then(serde_json::Value::as_array).map_or(&[][..], Vec::as_slice);
            inner.iter().enumerate().try_for_each(|(i, item)| check_precompiled(item, format!("{pointer}/normalizers/{i}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_precompiled_normalizer_is_an_error_naming_the_field_not_a_panic() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/llama3/tokenizer.json");
        let text = std::fs::read_to_string(&fixture).expect("the tiny tokenizer");
        let bad = serde_json::json!({"type": "Precompiled", "precompiled_charsmap": "AAECAwQFBgc="});
        for (normalizer, pointer) in [
            (bad.clone(), "`/normalizer`"),
            (serde_json::json!({"type": "Sequence", "normalizers": [{"type": "NFC"}, bad]}), "`/normalizer/normalizers/1`"),
        ] {
            let mut json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            json["normalizer"] = normalizer;
            let dir = tempfile::tempdir().expect("temporary folder");
            std::fs::write(dir.path().join("tokenizer.json"), json.to_string()).expect("write");
            let error = Tokenizer::from_hf_dir(dir.path(), &[]).expect_err("a bad charsmap");
            let message = error.to_string();
            assert!(message.contains(pointer) && message.contains("`Precompiled` normalizer"), "{message}");
        }
    }

    fn render(template: &str, value: serde_json::Value) -> String {
        let env = chat_environment(template.to_owned()).expect("template compiles");
        env.get_template(TEMPLATE)
            .expect("added")
            .render(minijinja::context! { v => value })
            .expect("renders")
    }

    #[test]
    fn tojson_writes_what_python_json_dumps_writes() {
        // python3 -c 'import json; print(json.dumps({"b": [1, "é<"], "a": None}, ensure_ascii=False))'
        let v = serde_json::json!({"b": [1, "é<"], "a": null});
        // minijinja maps iterate in key order, so "a" comes first.
        assert_eq!(
            render("{{ v | tojson }}", v.clone()),
            r#"{"a": null, "b": [1, "é<"]}"#
        );
        // json.dumps(..., indent=2)
        assert_eq!(
            render("{{ v | tojson(indent=2) }}", v.clone()),
            "{\n  \"a\": null,\n  \"b\": [\n    1,\n    \"é<\"\n  ]\n}"
        );
        // json.dumps(..., ensure_ascii=True)
        assert_eq!(
            render("{{ v | tojson(ensure_ascii=true) }}", v),
            r#"{"a": null, "b": [1, "\u00e9<"]}"#
        );
    }

    #[test]
    fn raise_exception_fails_the_render_with_its_message() {
        let env =
            chat_environment("{{ raise_exception('only user and assistant roles') }}".to_owned())
                .expect("compiles");
        let err = env
            .get_template(TEMPLATE)
            .expect("added")
            .render(())
            .expect_err("raises");
        assert!(
            err.to_string().contains("only user and assistant roles"),
            "{err}"
        );
    }

    #[test]
    fn python_string_methods_and_block_trimming_work() {
        let out = render(
            "{% if v.startswith('a') %}\n  {{ v.strip() }}\n{% endif %}",
            serde_json::json!("a b "),
        );
        assert_eq!(out, "  a b\n");
    }

    #[test]
    fn llama3_split_groups_digits_by_three() {
        use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
        let pre = byte_level_pre_tokenizer("llama-bpe", false).expect("builds");
        let mut s = PreTokenizedString::from("12345 ok");
        pre.pre_tokenize(&mut s).expect("splits");
        let pieces: Vec<_> = s
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(p, _, _)| p.to_owned())
            .collect();
        assert_eq!(pieces, ["123", "45", "Ġok"]);
    }
}
