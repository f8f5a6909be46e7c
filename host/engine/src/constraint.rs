//! Constrained decoding: a rule on which tokens one row may take next, applied to the logits
//! before a token is chosen (as a grammar or a JSON Schema does in structured generation).
//! The engine knows no grammar; the rule comes from the caller.

/// Which tokens may come next in one row, advanced by every token the row takes.
pub trait TokenConstraint {
    /// Set the logits of the tokens not allowed next to `f32::NEG_INFINITY`, knowing that
    /// `remaining` tokens (this one included) may still be generated, so a rule can close its
    /// structure in time. An error when the rule cannot say (its own failure), in words.
    fn restrict(&mut self, logits: &mut [f32], remaining: usize) -> Result<(), String>;

    /// Take `token` as the row's next token.
    fn advance(&mut self, token: u32) -> Result<(), String>;
}
