//! A JSON Schema compiled once for a model's vocabulary ([`SchemaDecoding`]), and the
//! per-answer state that masks each step's logits ([`SchemaConstraint`]).
//!
//! A mask alone keeps every prefix valid, but an answer still open when the token cap is
//! reached is cut short (a base model may list items until the cap). So near the cap the
//! constraint looks for a short way to finish (`SchemaConstraint::closing_path`) after the model's preferred
//! token, and when that token would leave too few tokens to finish, takes the way to finish
//! from here instead. The check follows the most probable token, so it is exact for greedy
//! decoding; a sampled token may still overrun.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{SimpleVob, TokTrie};
use llguidance::{Matcher, ParserFactory};
use rapha_engine::{TokenConstraint, Tokenizer};
use serde_json::{Value, json};
use toktrie_hf_tokenizers::ByteTokenizer;

use crate::error::{Error, Result};

/// How many tokens before the cap the constraint starts looking for a way to finish, and
/// the longest way it looks for.
const CLOSING_LOOKAHEAD: usize = 64;

/// A schema ready to constrain answers of one model: the grammar, and the parser factory
/// holding the model's vocabulary as a token trie.
pub struct SchemaDecoding {
    factory: Arc<ParserFactory>,
    grammar: TopLevelGrammar,
    closers: Arc<Closers>,
    eos: Vec<u32>,
}

impl SchemaDecoding {
    /// Compile `schema` for the model whose tokenizer is `tokenizer` and whose logits are
    /// `vocab_size` wide. Whatever the compiler does not support is an error here, naming
    /// the keyword, rather than at the first answer.
    pub fn new(schema: &Value, tokenizer: &Tokenizer, vocab_size: usize) -> Result<SchemaDecoding> {
        let json = tokenizer.to_json()?;
        let mut bytes = ByteTokenizer::from_json_bytes(json.as_bytes()).map_err(|e| Error::Tokenizer(format!("{e:#}")))?;
        bytes.set_eos_tokens(tokenizer.eos_token_ids());
        let env = bytes.into_tok_env(Some(vocab_size)).map_err(|e| Error::Tokenizer(format!("{e:#}")))?;
        let mut factory = ParserFactory::new_simple(&env).map_err(|e| Error::Tokenizer(format!("{e:#}")))?;
        factory.quiet();
        let grammar = TopLevelGrammar::from_json_schema(compact(schema));
        factory.create_parser(grammar.clone()).map_err(|e| Error::Schema(format!("{e:#}")))?;
        let closers = Arc::new(Closers::new(env.tok_trie()));
        Ok(SchemaDecoding { factory: Arc::new(factory), grammar, closers, eos: tokenizer.eos_token_ids().to_vec() })
    }

    /// The state of one answer, at its start.
    pub fn constraint(&self) -> Result<SchemaConstraint> {
        let parser = self.factory.create_parser(self.grammar.clone()).map_err(|e| Error::Schema(format!("{e:#}")))?;
        let trie = self.factory.tok_env().tok_trie().clone();
        let closers = Arc::clone(&self.closers);
        let eos = self.eos.clone();
        Ok(SchemaConstraint { matcher: Matcher::new(Ok(parser)), closers, trie, eos, lexical: Lexical::default() })
    }
}

/// `schema` with llguidance's options for compact JSON: no white space between tokens, `,`
/// between items and `:` after keys.
fn compact(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(object) = schema.as_object_mut() {
        let options = json!({"whitespace_flexible": false, "item_separator": ",", "key_separator": ":"});
        object.insert("x-guidance".to_owned(), options);
    }
    schema
}

/// The tokens that finish JSON soonest, best first, inside a string and outside one.
struct Closers {
    /// Those that start with `"` and hold only `"`, `]`, `}`, `,` and `:`, shortest first:
    /// `"` ends the string, `",` or `"}` where the mask refuses a lone `"` before what the
    /// schema forces next.
    in_string: Vec<u32>,
    /// Those made only of `]` and `}` (longest first: they close the most); then those that
    /// start with `,` or `:` (a `,` can open another item, but ends a number in an object that
    /// still needs a required key), shortest first; then the shortest values (`null`, `false`,
    /// `0`, `1`, `true`); then those that open a string (a key the schema requires).
    outside: Vec<u32>,
}

impl Closers {
    fn new(trie: &TokTrie) -> Closers {
        let bytes = |t: u32| trie.token(t);
        let made_of = |t: u32, allowed: &[u8]| !bytes(t).is_empty() && bytes(t).iter().all(|b| allowed.contains(b));
        let starts = |t: u32, first: &[u8]| bytes(t).first().is_some_and(|b| first.contains(b));
        let vocab: Vec<u32> = (0..trie.vocab_size() as u32).collect();
        let select = |keep: &dyn Fn(u32) -> bool, longest_first: bool| {
            let mut tokens: Vec<u32> = vocab.iter().copied().filter(|&t| keep(t)).collect();
            match longest_first {
                true => tokens.sort_by_key(|&t| std::cmp::Reverse(trie.token_len(t))),
                false => tokens.sort_by_key(|&t| trie.token_len(t)),
            }
            tokens
        };
        let structural = |t: u32| made_of(t, b"\"]},:");
        let in_string = select(&|t| structural(t) && starts(t, b"\""), false);
        let mut outside = select(&|t| made_of(t, b"]}"), true);
        outside.extend(select(&|t| structural(t) && starts(t, b",:"), false));
        for value in ["null", "false", "0", "1", "true"] {
            outside.extend(vocab.iter().copied().filter(|&t| bytes(t) == value.as_bytes()));
        }
        outside.extend(in_string.iter().copied());
        Closers { in_string, outside }
    }
}

/// Where JSON text stands lexically: inside a string or not (and after a backslash there).
#[derive(Debug, Clone, Copy, Default)]
struct Lexical {
    in_string: bool,
    escaped: bool,
}

impl Lexical {
    /// The state after `bytes` more of a valid JSON prefix.
    fn after(mut self, bytes: &[u8]) -> Lexical {
        for &byte in bytes {
            match (self.in_string, self.escaped, byte) {
                (true, true, _) => self.escaped = false,
                (true, false, b'\\') => self.escaped = true,
                (_, false, b'"') => self.in_string = !self.in_string,
                _ => {}
            }
        }
        self
    }
}

/// The most probable token, the lowest id among equals (as greedy decoding picks it).
fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<usize> = None;
    for (token, logit) in logits.iter().enumerate() {
        if logit.is_finite() && best.is_none_or(|b| *logit > logits[b]) {
            best = Some(token);
        }
    }
    best.map(|t| t as u32)
}

/// Where one answer stands in the schema's grammar.
pub struct SchemaConstraint {
    matcher: Matcher,
    closers: Arc<Closers>,
    trie: TokTrie,
    eos: Vec<u32>,
    /// Where the answer so far stands lexically.
    lexical: Lexical,
}

impl SchemaConstraint {
    /// A short sequence of tokens that completes the answer from `matcher`'s state (`lexical`
    /// its text's), found greedily (the first allowed of [`Closers`] for where the text
    /// stands, else the longest allowed token, as in a key the schema forces); `None` when
    /// none is found within [`CLOSING_LOOKAHEAD`] tokens.
    fn closing_path(&self, mut matcher: Matcher, mut lexical: Lexical) -> Option<Vec<u32>> {
        let mut path = Vec::new();
        while path.len() < CLOSING_LOOKAHEAD {
            if matcher.is_accepting().ok()? {
                return Some(path);
            }
            let mask = matcher.compute_mask().ok()?;
            let ranked = if lexical.in_string { &self.closers.in_string } else { &self.closers.outside };
            let token = ranked.iter().copied().find(|&t| mask.is_allowed(t)).or_else(|| self.longest(&mask))?;
            matcher.consume_token(token).ok()?;
            lexical = lexical.after(self.trie.token(token));
            path.push(token);
        }
        None
    }

    /// Whether after `token` the answer can still be finished within `remaining - 1` tokens
    /// (an end-of-sequence token finishes it).
    fn leaves_room(&self, token: u32, remaining: usize) -> bool {
        if self.eos.contains(&token) {
            return true;
        }
        let mut after = self.matcher.deep_clone();
        let lexical = self.lexical.after(self.trie.token(token));
        after.consume_token(token).is_ok() && self.closing_path(after, lexical).is_some_and(|path| path.len() < remaining)
    }

    /// The allowed token with the most bytes.
    fn longest(&self, mask: &SimpleVob) -> Option<u32> {
        let mut best: Option<u32> = None;
        mask.iter_set_entries(|t| {
            let t = t as u32;
            if best.is_none_or(|b| self.trie.token_len(t) > self.trie.token_len(b)) {
                best = Some(t);
            }
        });
        best
    }
}

impl TokenConstraint for SchemaConstraint {
    /// Once the answer is complete only an end-of-sequence token is allowed; when no more
    /// tokens remain than the way to finish takes, only that way's next token.
    fn restrict(&mut self, logits: &mut [f32], remaining: usize) -> Result<(), String> {
        let mask = self.matcher.compute_mask_or_eos().map_err(|e| format!("{e:#}"))?;
        if mask.is_zero() {
            return Err("no token can continue the answer within the schema".to_owned());
        }
        for (token, logit) in logits.iter_mut().enumerate() {
            if !mask.is_allowed(token as u32) {
                *logit = f32::NEG_INFINITY;
            }
        }
        if remaining > CLOSING_LOOKAHEAD || self.matcher.is_stopped() {
            return Ok(());
        }
        if argmax(logits).is_some_and(|t| self.leaves_room(t, remaining)) {
            return Ok(());
        }
        if let Some(&next) = self.closing_path(self.matcher.deep_clone(), self.lexical).as_deref().and_then(<[u32]>::first) {
            for (token, logit) in logits.iter_mut().enumerate() {
                if token as u32 != next {
                    *logit = f32::NEG_INFINITY;
                }
            }
        }
        Ok(())
    }

    fn advance(&mut self, token: u32) -> Result<(), String> {
        if self.matcher.is_stopped() {
            return Ok(());
        }
        self.lexical = self.lexical.after(self.trie.token(token));
        self.matcher.consume_token(token).map_err(|e| format!("{e:#}"))
    }
}
