//! Erlang term text: printing and parsing the syntax `io:format` prints.
//!
//! | Erlang                                          | Rust                        |
//! |-------------------------------------------------|-----------------------------|
//! | `io:format("~tp", [T])` (one line, `+pc unicode`) | `term.to_string()`          |
//! | `{ok, Ts, _} = erl_scan:string(S), erl_parse:parse_term(Ts)` | `etf::parse(s)?` |
//!
//! # Printing
//!
//! [`Term`](crate::Term)'s `Display` prints what `io:format("~tp", [T])`
//! prints in an `erl` started with `+pc unicode`, but always on one line
//! (as `~tw` does): `,` without spaces, `#{k => v}` with spaces around `=>`.
//!
//! - Atoms are quoted when needed (`'EXIT'`, `'a b'`); unlike OTP 25 this
//!   also quotes `'maybe'` and `'else'` (OTP 26 does), which reads back the same.
//! - Floats use the shortest digits that read back to the same float, in
//!   fixed or scientific form, whichever is shorter (fixed on a tie): `1.0`,
//!   `0.1`, `1.0e3`, `123450.0`, `1.0e-5`, `5.0e-324`, `-0.0`, exactly as
//!   OTP 25's `float_to_list(F, [short])` does.
//! - A non-empty list of printable Unicode characters prints as a string
//!   (`"abc"`, `"λ\n"`), as `io_lib:printable_unicode_list/1` decides.
//! - A binary that is valid UTF-8 of printable characters prints as
//!   `<<"abc">>` (ASCII) or `<<"héllo"/utf8>>`; one that is not UTF-8 but
//!   whose bytes are all printable Latin-1 as `<<"ÈÉ">>`; any other as
//!   bytes `<<1,2,3>>`. Bitstrings print as `<<1,2:3>>`.
//! - Pids, ports and references on `nonode@nohost` print as `erl` prints
//!   local ones: `<0.42.0>`, `#Port<0.7>`, `#Ref<0.1.2.3>`. On any other
//!   node, the node name takes the place of the `0`, since a node index
//!   means nothing outside one VM: `<'rust@host'.42.0>` (the name quoted
//!   only when an atom would be). The creation is not printed.
//! - Export funs print as `fun m:f/1`, other funs as `#Fun<m.Index.Uniq>`.
//!
//! Every term without pids, ports, references or funs prints as text that
//! `erl_scan:string/1` + `erl_parse:parse_term/1` read back `=:=` to it.
//!
//! ```
//! use etf::Term;
//! let t = etf::parse(r#"{ok, "héllo", <<"λ"/utf8>>, 1.0e-10, [1|2]}."#).unwrap();
//! assert_eq!(t.to_string(), r#"{ok,"héllo",<<"λ"/utf8>>,1.0e-10,[1|2]}"#);
//! ```
//!
//! # Parsing
//!
//! [`parse`] reads one term as `~p`, `~tp`, `~w` or `~tw` print it; see its
//! documentation for the accepted syntax.

use std::fmt;

mod bits;
mod float;
mod limited;
mod parse;
mod print;

pub use limited::Limited;
pub use parse::{parse, ParseError, ParseErrorKind, MAX_DEPTH};

/// Writes `c` as it appears inside an Erlang quoted atom (`quote = '\''`) or
/// string (`quote = '"'`), escaping what `io_lib:write_string/2` escapes: the
/// quote, `\`, the named control characters (`\n`, `\e`, `\d`...), and any
/// other character below U+00A0 as three octal digits (`\000`, `\205`).
///
/// ```
/// let mut s = String::new();
/// for c in "a'\n\u{0}λ".chars() {
///     etf::text::write_escaped_char(&mut s, c, '\'').unwrap();
/// }
/// assert_eq!(s, r"a\'\n\000λ");
/// ```
pub fn write_escaped_char(f: &mut impl fmt::Write, c: char, quote: char) -> fmt::Result {
    match c {
        c if c == quote => {
            f.write_char('\\')?;
            f.write_char(c)
        }
        '\\' => f.write_str("\\\\"),
        ' '..='~' => f.write_char(c),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        '\u{b}' => f.write_str("\\v"),
        '\u{8}' => f.write_str("\\b"),
        '\u{c}' => f.write_str("\\f"),
        '\u{1b}' => f.write_str("\\e"),
        '\u{7f}' => f.write_str("\\d"),
        c if (c as u32) < 0xa0 => write!(f, "\\{:03o}", c as u32),
        c => f.write_char(c),
    }
}

#[cfg(test)]
mod tests;
