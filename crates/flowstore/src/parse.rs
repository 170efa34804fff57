//! Reading the names this crate stores (states, intentions, atom kinds) back: the error
//! of a name this version does not know. Below every other module, so that the types
//! that parse themselves and the errors that name them need not import each other.

/// A stored name (state, intention, atom kind) that this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse {what} `{text}`: no such {what}")]
pub struct ParseError {
    what: &'static str,
    text: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, text: &str) -> Self {
        ParseError {
            what,
            text: text.to_owned(),
        }
    }

    /// What was being read: `state`, `intention`, `atom kind`.
    pub fn what(&self) -> &'static str {
        self.what
    }
}
