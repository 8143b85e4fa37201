//! Erlang term text: printing (`Display`, as `io:format("~tw")` prints) and parsing.

use std::fmt;

/// Writes `c` as it appears inside an Erlang quoted atom (`quote = '\''`) or
/// string (`quote = '"'`), escaping what `io_lib` escapes.
pub fn write_escaped_char(f: &mut impl fmt::Write, c: char, quote: char) -> fmt::Result {
    match c {
        '\\' => f.write_str("\\\\"),
        '\n' => f.write_str("\\n"),
        '\r' => f.write_str("\\r"),
        '\t' => f.write_str("\\t"),
        '\u{b}' => f.write_str("\\v"),
        '\u{8}' => f.write_str("\\b"),
        '\u{c}' => f.write_str("\\f"),
        '\u{1b}' => f.write_str("\\e"),
        '\u{7f}' => f.write_str("\\d"),
        c if c == quote => {
            f.write_char('\\')?;
            f.write_char(c)
        }
        c if (c as u32) < 0x20 => write!(f, "\\^{}", ((c as u8) + 64) as char),
        c => f.write_char(c),
    }
}
