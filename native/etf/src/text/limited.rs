//! A term's text cut to a length, for logs: a crash reason or a message
//! may be a term of any size, and a log line should not be.
//!
//! | Erlang                                        | here                        |
//! |-----------------------------------------------|-----------------------------|
//! | `io_lib:format("~tP", [T, Depth])`, `logger`'s `max_size` | `term.limited(bytes)`       |

use std::fmt::{self, Write};

use crate::term::Term;

/// `term` as [`Display`](fmt::Display) prints it, cut after `limit` bytes
/// of text with `...` (made by [`Term::limited`]). Printing stops at the
/// cut, so a huge term costs no more than its first `limit` bytes.
pub struct Limited<'a> {
    term: &'a Term,
    limit: usize,
}

impl Term {
    /// This term's text, at most `limit` bytes of it and `...` (see
    /// [`Limited`]).
    ///
    /// ```
    /// use etf::Term;
    /// let t = Term::List((0..1000).map(Term::Int).collect());
    /// assert_eq!(t.limited(12).to_string(), "[0,1,2,3,4,5...");
    /// assert_eq!(Term::atom("ok").limited(12).to_string(), "ok");
    /// ```
    pub fn limited(&self, limit: usize) -> Limited<'_> {
        Limited { term: self, limit }
    }
}

/// Passes text on until the budget is spent, then fails the write.
struct Budget<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    left: usize,
    cut: bool,
}

impl Write for Budget<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.left -= s.len();
            return self.out.write_str(s);
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.write_str(&s[..end])?;
        self.left = 0;
        self.cut = true;
        Err(fmt::Error)
    }
}

impl fmt::Display for Limited<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut budget = Budget {
            out: f,
            left: self.limit,
            cut: false,
        };
        match write!(budget, "{}", self.term) {
            Ok(()) => Ok(()),
            Err(_) if budget.cut => budget.out.write_str("..."),
            Err(e) => Err(e),
        }
    }
}
