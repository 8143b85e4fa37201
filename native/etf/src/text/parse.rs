//! Reading Erlang term text back into a [`Term`]: `erl_scan` + `erl_parse:parse_term/1`.
//!
//! The parser is iterative (an explicit stack of open containers), so deep
//! nesting costs heap, not stack, and is bounded by [`MAX_DEPTH`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::atom::{atoms, Atom, AtomError};
use crate::term::{Map, Pid, Port, Reference, Term};

use super::bits::BitWriter;

/// The deepest nesting of lists, tuples and maps [`parse`] accepts: the
/// same bound as the binary decoder's default, so the text of every term
/// `etf::decode` accepts reads back.
///
/// Deeper text is refused with [`ParseErrorKind::TooDeep`] rather than
/// building a term whose recursive `Drop` could exhaust a thread's stack.
/// (`Clone` and `==` on terms this deep need more than a 2 MiB stack in a
/// debug build: about 1.3 KiB per level.)
pub const MAX_DEPTH: usize = 2048;

/// The largest binary [`parse`] builds from `<<...>>` in short text, in
/// bits (32 MiB); text longer than that may hold binaries as large as
/// itself (a printed binary takes at least a character a byte), so that
/// `~tp` of any binary reads back, and a short text still cannot claim
/// gigabytes (`<<0:8000000000>>`).
const MAX_BINARY_BITS: usize = 1 << 28;

/// Why text is not an Erlang term, and where.
///
/// Displays as `at line 2, column 3 (byte 7): unexpected '}', expected a term`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at line {line}, column {column} (byte {offset}): {kind}")]
pub struct ParseError {
    /// Byte offset of the problem in the input.
    pub offset: usize,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with the text; see [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text ended early.
    #[error("unexpected end of input, expected {0}")]
    UnexpectedEnd(&'static str),
    /// A character that cannot start or continue what is being read.
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        /// The offending character, quoted.
        found: String,
        /// What would have been valid here.
        expected: &'static str,
    },
    /// Lists, tuples and maps nested deeper than [`MAX_DEPTH`].
    #[error("terms nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A variable (`X`, `_`): text must be a ground term.
    #[error("variable {0} is not a term")]
    Variable(String),
    /// A reserved word (`end`, `case`) that would have to be quoted.
    #[error("reserved word {0} must be quoted to be an atom ('{0}')")]
    ReservedWord(String),
    /// `fun m:f/1` or `#Fun<...>`: funs have no readable text form.
    #[error("funs cannot be read from text")]
    Fun,
    /// A name that cannot be an atom.
    #[error("invalid atom: {0}")]
    Atom(AtomError),
    /// A malformed or out-of-range number.
    #[error("invalid number {0}")]
    Number(String),
    /// A malformed escape sequence or a code point that is not a character.
    #[error("invalid escape or character: {0}")]
    Escape(String),
    /// A `<<...>>` segment that does not build.
    #[error("invalid binary segment: {0}")]
    Segment(String),
    /// A malformed pid, port or reference.
    #[error("invalid identifier: {0}")]
    Identifier(String),
}

/// Reads one Erlang term from `text`, as `io:format` prints terms with
/// `~p`, `~tp`, `~w` or `~tw`; the trailing `.` is optional and whitespace
/// and `%` comments may appear between tokens.
///
/// | Text                                      | Term                                  |
/// |-------------------------------------------|---------------------------------------|
/// | `ok`, `'EXIT'`, `'\x{3bb}\n'`             | atoms (all `erl_scan` escapes)        |
/// | `42`, `-7`, `1_000`, `16#FF`, `$a`, `$\n` | integers, any size                    |
/// | `1.0`, `-0.0`, `1.5e-7`, `2.0E+3`         | floats (`-0.0` stays negative)        |
/// | `"ab" "c"`                                | `"abc"`: a list of code points        |
/// | `<<>>`, `<<1,2:3>>`, `<<"é"/utf8>>`       | binaries and bitstrings               |
/// | `[1,2|T]`, `{a,b}`, `#{k => v}`           | lists, improper lists, tuples, maps   |
/// | `<0.42.0>`, `#Port<0.7>`, `#Ref<0.1.2.3>` | identifiers on `nonode@nohost`        |
/// | `<rust@host.42.0>`                        | a pid on another node (as printed)    |
///
/// Binary segments take an integer, character, float or string value, a
/// literal `:Size`, and `/Type` specifiers (`integer`, `float`, `utf8`,
/// `utf16`, `utf32`, `big`, `little`, `native`, `signed`, `unsigned`,
/// `unit:N`), building what `erl_eval` builds. Identifiers are read with
/// creation 0; `<N.42.0>` with a node index other than 0 cannot be read
/// (the index only means something inside the VM that printed it).
///
/// Not terms, and refused: variables, funs, records, operators other than a
/// sign on a number, reserved words (`end`) unless quoted. `maybe` and
/// `else` are read as atoms, as OTP 25 prints them unquoted.
///
/// ```
/// use etf::Term;
/// let t = etf::parse("{ok, [1|2], <<\"hi\">>}.").unwrap();
/// assert_eq!(t.to_string(), "{ok,[1|2],<<\"hi\">>}");
/// let e = etf::parse("{ok,\n }").unwrap_err();
/// assert_eq!((e.line, e.column), (2, 2));
/// ```
pub fn parse(text: &str) -> Result<Term, ParseError> {
    let mut p = Parser { src: text, pos: 0 };
    let term = p.term()?;
    p.skip_ws();
    if p.eat(".") {
        p.skip_ws();
    }
    if p.peek().is_some() {
        return Err(p.unexpected("end of input"));
    }
    Ok(term)
}

/// `"{ok, 1}".parse::<Term>()`: the same as [`parse`].
impl std::str::FromStr for Term {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Term, ParseError> {
        parse(text)
    }
}

/// Reserved words of OTP 25's `erl_scan` (no `maybe`/`else`, which need a feature).
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
    "rem", "try", "when", "xor",
];

/// An open container, waiting for its next element.
enum Frame {
    /// `[a, b` — after `,` or `[`.
    List(Vec<Term>),
    /// `[a, b |` — waiting for the tail.
    Tail(Vec<Term>),
    /// `{a, b`.
    Tuple(Vec<Term>),
    /// `#{k => v,` — waiting for a key.
    MapKey(MapBuilder),
    /// `#{k =>` — waiting for the value of `key`.
    MapValue(MapBuilder, Term),
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset, always on a character boundary.
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The largest binary this text may build (see [`MAX_BINARY_BITS`]).
    fn max_binary_bits(&self) -> usize {
        MAX_BINARY_BITS.max(self.src.len().saturating_mul(8))
    }

    // ---- cursor ----

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Skips whitespace as `erl_scan` counts it (controls, space,
    /// U+0080..U+00A0) and `%` comments.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == '%' {
                match self.rest().find('\n') {
                    Some(n) => self.pos += n,
                    None => self.pos = self.src.len(),
                }
            } else if (c as u32) <= 0x20 || (0x80..=0xa0).contains(&(c as u32)) {
                self.bump();
            } else {
                break;
            }
        }
    }

    // ---- errors ----

    fn err_at(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        let before = self.src.get(..offset).unwrap_or(self.src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
        ParseError {
            offset,
            line,
            column,
            kind,
        }
    }

    fn err(&self, kind: ParseErrorKind) -> ParseError {
        self.err_at(self.pos, kind)
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        match self.peek() {
            None => self.err(ParseErrorKind::UnexpectedEnd(expected)),
            Some(c) => self.err(ParseErrorKind::Unexpected {
                found: format!("{c:?}"),
                expected,
            }),
        }
    }

    fn expect(&mut self, s: &str, expected: &'static str) -> Result<(), ParseError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    // ---- terms ----

    fn term(&mut self) -> Result<Term, ParseError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let opens = ["[", "{", "#{"].iter().any(|o| self.rest().starts_with(o));
            if stack.len() >= MAX_DEPTH && opens {
                return Err(self.err(ParseErrorKind::TooDeep));
            }
            let mut value = if self.eat("[") {
                self.skip_ws();
                if !self.eat("]") {
                    stack.push(Frame::List(Vec::new()));
                    continue 'value;
                }
                Term::nil()
            } else if self.eat("{") {
                self.skip_ws();
                if !self.eat("}") {
                    stack.push(Frame::Tuple(Vec::new()));
                    continue 'value;
                }
                Term::Tuple(Vec::new())
            } else if self.eat("#{") {
                self.skip_ws();
                if !self.eat("}") {
                    stack.push(Frame::MapKey(MapBuilder::default()));
                    continue 'value;
                }
                Term::Map(Map::new())
            } else {
                self.scalar()?
            };
            // Close every container `value` completes.
            loop {
                let Some(frame) = stack.pop() else {
                    return Ok(value);
                };
                self.skip_ws();
                match frame {
                    Frame::List(mut items) => {
                        items.push(value);
                        if self.eat(",") {
                            stack.push(Frame::List(items));
                            continue 'value;
                        } else if self.eat("|") {
                            stack.push(Frame::Tail(items));
                            continue 'value;
                        }
                        self.expect("]", "',', '|' or ']'")?;
                        value = Term::List(items);
                    }
                    Frame::Tail(items) => {
                        self.expect("]", "']'")?;
                        value = improper(items, value);
                    }
                    Frame::Tuple(mut items) => {
                        items.push(value);
                        if self.eat(",") {
                            stack.push(Frame::Tuple(items));
                            continue 'value;
                        }
                        self.expect("}", "',' or '}'")?;
                        value = Term::Tuple(items);
                    }
                    Frame::MapKey(map) => {
                        self.expect("=>", "'=>'")?;
                        stack.push(Frame::MapValue(map, value));
                        continue 'value;
                    }
                    Frame::MapValue(mut map, key) => {
                        map.insert(key, value);
                        if self.eat(",") {
                            stack.push(Frame::MapKey(map));
                            continue 'value;
                        }
                        self.expect("}", "',' or '}'")?;
                        value = Term::Map(map.finish());
                    }
                }
            }
        }
    }

    /// Anything that is not a list, tuple or map.
    fn scalar(&mut self) -> Result<Term, ParseError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.unexpected("a term"));
        };
        match c {
            '0'..='9' => self.number(false),
            '-' | '+' => {
                self.bump();
                self.skip_ws();
                let negative = c == '-';
                match self.peek() {
                    Some('0'..='9') => self.number(negative),
                    Some('$') => {
                        let ch = i64::from(self.char_literal()?);
                        Ok(Term::Int(if negative { -ch } else { ch }))
                    }
                    _ => Err(self.unexpected("a number after the sign")),
                }
            }
            '$' => Ok(Term::Int(i64::from(self.char_literal()?))),
            '"' => {
                let chars = self.strings()?;
                Ok(Term::List(
                    chars.into_iter().map(|c| Term::Int(i64::from(c))).collect(),
                ))
            }
            '\'' => self.quoted_atom(),
            '<' if self.rest().starts_with("<<") => self.binary(),
            '<' => self.pid(),
            '#' if self.rest().starts_with("#Ref<") => self.reference(),
            '#' if self.rest().starts_with("#Port<") => self.port(),
            '#' if self.rest().starts_with("#Fun<") => Err(self.err(ParseErrorKind::Fun)),
            c if is_atom_start(c) => {
                let name = self.name();
                if name == "fun" {
                    Err(self.err_at(start, ParseErrorKind::Fun))
                } else if RESERVED.contains(&name) {
                    Err(self.err_at(start, ParseErrorKind::ReservedWord(name.to_owned())))
                } else {
                    self.make_atom(start, name)
                }
            }
            c if c == '_' || is_variable_start(c) => {
                let name = self.name().to_owned();
                Err(self.err_at(start, ParseErrorKind::Variable(name)))
            }
            _ => Err(self.unexpected("a term")),
        }
    }

    fn make_atom(&self, start: usize, name: &str) -> Result<Term, ParseError> {
        Atom::try_new(name)
            .map(Term::Atom)
            .map_err(|e| self.err_at(start, ParseErrorKind::Atom(e)))
    }

    /// A run of name characters (`[A-Za-z0-9_@]` and Latin-1 letters).
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.bump();
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn quoted_atom(&mut self) -> Result<Term, ParseError> {
        let start = self.pos;
        self.bump();
        let mut name = String::new();
        loop {
            let at = self.pos;
            match self.bump() {
                None => return Err(self.unexpected("a closing \"'\"")),
                Some('\'') => break,
                Some('\\') => {
                    let code = self.escape()?;
                    match char::from_u32(code) {
                        Some(c) => name.push(c),
                        None => {
                            return Err(self.err_at(
                                at,
                                ParseErrorKind::Escape(format!("U+{code:X} is not a character")),
                            ))
                        }
                    }
                }
                Some(c) => name.push(c),
            }
        }
        self.make_atom(start, &name)
    }

    /// One or more adjacent string literals, concatenated, as code points.
    fn strings(&mut self) -> Result<Vec<u32>, ParseError> {
        let mut chars = Vec::new();
        while self.eat("\"") {
            loop {
                match self.bump() {
                    None => return Err(self.unexpected("a closing '\"'")),
                    Some('"') => break,
                    Some('\\') => chars.push(self.escape()?),
                    Some(c) => chars.push(c as u32),
                }
            }
            self.skip_ws();
        }
        Ok(chars)
    }

    /// `$a`, `$\n`, `$\x{3bb}`: a character's code point.
    fn char_literal(&mut self) -> Result<u32, ParseError> {
        self.bump();
        match self.bump() {
            None => Err(self.unexpected("a character after '$'")),
            Some('\\') => self.escape(),
            Some(c) => Ok(c as u32),
        }
    }

    /// The escape sequence after a `\`, as `erl_scan` reads it.
    fn escape(&mut self) -> Result<u32, ParseError> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Err(self.unexpected("an escape sequence"));
        };
        let code = match c {
            'b' => 8,
            'd' => 127,
            'e' => 27,
            'f' => 12,
            'n' => 10,
            'r' => 13,
            's' => 32,
            't' => 9,
            'v' => 11,
            '0'..='7' => {
                let mut code = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            self.bump();
                            code = code * 8 + (d as u32 - '0' as u32);
                        }
                        _ => break,
                    }
                }
                code
            }
            'x' if self.eat("{") => {
                let digits_start = self.pos;
                while self.peek().is_some_and(|d| d.is_ascii_hexdigit()) {
                    self.bump();
                }
                let digits = self.src.get(digits_start..self.pos).unwrap_or("");
                self.expect("}", "'}' closing \\x{...}")?;
                u32::from_str_radix(digits, 16)
                    .ok()
                    .filter(|c| *c <= 0x10_ffff)
                    .ok_or_else(|| {
                        self.err_at(start, ParseErrorKind::Escape(format!("\\x{{{digits}}}")))
                    })?
            }
            'x' => {
                let mut code = 0;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(16)) {
                        Some(d) => {
                            self.bump();
                            code = code * 16 + d;
                        }
                        None => return Err(self.unexpected("two hex digits after \\x")),
                    }
                }
                code
            }
            '^' => match self.bump() {
                Some(c) => c as u32 & 31,
                None => return Err(self.unexpected("a character after \\^")),
            },
            c => c as u32,
        };
        Ok(code)
    }

    // ---- numbers ----

    /// Digits of `radix` with `_` allowed between two digits; the digits
    /// without the underscores.
    fn digits(&mut self, radix: u32) -> Cow<'a, str> {
        let start = self.pos;
        let mut underscores = false;
        while let Some(c) = self.peek() {
            if c.is_digit(radix) {
                self.bump();
            } else if c == '_'
                && self.pos > start
                && self.peek2().is_some_and(|d| d.is_digit(radix))
            {
                underscores = true;
                self.bump();
            } else {
                break;
            }
        }
        let run = self.src.get(start..self.pos).unwrap_or("");
        if underscores {
            Cow::Owned(run.replace('_', ""))
        } else {
            Cow::Borrowed(run)
        }
    }

    fn number(&mut self, negative: bool) -> Result<Term, ParseError> {
        let start = self.pos;
        let int = self.digits(10);
        let bad = |p: &Self| {
            let text = p.src.get(start..p.pos).unwrap_or("").to_owned();
            p.err_at(start, ParseErrorKind::Number(text))
        };
        let signed = |n: BigInt| Term::from_bigint(if negative { -n } else { n });
        if self.eat("#") {
            let radix: u32 = int.parse().map_err(|_| bad(self))?;
            if !(2..=36).contains(&radix) {
                return Err(bad(self));
            }
            let digits = self.digits(radix);
            return BigInt::parse_bytes(digits.as_bytes(), radix)
                .map(signed)
                .ok_or_else(|| bad(self));
        }
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            let mut text = format!("{int}.{}", self.digits(10));
            let before_exp = self.pos;
            if self.eat("e") || self.eat("E") {
                let sign = if self.eat("-") {
                    "-"
                } else {
                    self.eat("+");
                    ""
                };
                let exp = self.digits(10);
                if exp.is_empty() {
                    // `1.0e` is the float 1.0 followed by something else.
                    self.pos = before_exp;
                } else {
                    text = format!("{text}e{sign}{exp}");
                }
            }
            let x: f64 = text.parse().map_err(|_| bad(self))?;
            if !x.is_finite() {
                return Err(bad(self));
            }
            return Ok(Term::Float(if negative { -x } else { x }));
        }
        if let Ok(i) = int.parse::<i64>() {
            // Fast path: most integers fit (and -i64::MIN does not, so
            // the rare i64::MIN takes the BigInt path below).
            return Ok(Term::Int(if negative { -i } else { i }));
        }
        BigInt::parse_bytes(int.as_bytes(), 10)
            .map(signed)
            .ok_or_else(|| bad(self))
    }

    /// A decimal number that must fit `T`, for identifiers and sizes.
    fn small<T: TryFrom<u64>>(&mut self, what: &'static str) -> Result<T, ParseError> {
        let start = self.pos;
        let digits = self.digits(10);
        if digits.is_empty() {
            return Err(self.unexpected(what));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| self.err_at(start, ParseErrorKind::Number(digits.into_owned())))
    }

    // ---- binaries ----

    fn binary(&mut self) -> Result<Term, ParseError> {
        self.eat("<<");
        self.skip_ws();
        let mut w = BitWriter::default();
        if self.eat(">>") {
            return Ok(w.finish());
        }
        loop {
            self.skip_ws();
            self.segment(&mut w)?;
            if w.bit_len() > self.max_binary_bits() {
                return Err(self.err(ParseErrorKind::Segment(format!(
                    "binary larger than {} bytes",
                    self.max_binary_bits() / 8
                ))));
            }
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            self.expect(">>", "',' or '>>'")?;
            return Ok(w.finish());
        }
    }

    /// `Value[:Size][/Type-Specifiers]`.
    fn segment(&mut self, w: &mut BitWriter) -> Result<(), ParseError> {
        let start = self.pos;
        let value = match self.peek() {
            Some('"') => SegValue::Str(self.strings()?),
            Some('0'..='9' | '-' | '+' | '$') => match self.scalar()? {
                Term::Int(i) => SegValue::Int(BigInt::from(i)),
                Term::BigInt(n) => SegValue::Int(n),
                Term::Float(x) => SegValue::Float(x),
                _ => return Err(self.unexpected("a segment value")),
            },
            _ => return Err(self.unexpected("a string, integer or float segment")),
        };
        self.skip_ws();
        let mut size: Option<usize> = None;
        if self.eat(":") {
            self.skip_ws();
            size = Some(self.small("a segment size")?);
            self.skip_ws();
        }
        let mut spec = Spec::default();
        if self.eat("/") {
            loop {
                self.skip_ws();
                let at = self.pos;
                let name = self.name().to_owned();
                if name == "unit" {
                    self.skip_ws();
                    self.expect(":", "':' after unit")?;
                    self.skip_ws();
                    spec.unit = Some(self.small("a unit")?);
                } else if !spec.set(&name) {
                    let msg = if name.is_empty() {
                        return Err(self.unexpected("a type specifier"));
                    } else {
                        format!("unknown type specifier {name}")
                    };
                    return Err(self.err_at(at, ParseErrorKind::Segment(msg)));
                }
                self.skip_ws();
                if !self.eat("-") {
                    break;
                }
            }
        }
        spec.build(value, size, self.max_binary_bits(), w)
            .map_err(|msg| self.err_at(start, ParseErrorKind::Segment(msg)))
    }

    // ---- identifiers ----

    /// The node of a pid, port or reference: `0` (this node, `nonode@nohost`)
    /// or a node name.
    fn node(&mut self) -> Result<Atom, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('0'..='9') => {
                let index: u64 = self.small("a node")?;
                if index == 0 {
                    Ok(atoms::nonode())
                } else {
                    Err(self.err_at(
                        start,
                        ParseErrorKind::Identifier(format!(
                            "node index {index} only means something inside the VM that printed it"
                        )),
                    ))
                }
            }
            Some('\'') => match self.quoted_atom()? {
                Term::Atom(a) => Ok(a),
                _ => Err(self.unexpected("a node name")),
            },
            Some(c) if is_atom_start(c) => {
                let name = self.name().to_owned();
                match self.make_atom(start, &name)? {
                    Term::Atom(a) => Ok(a),
                    _ => Err(self.unexpected("a node name")),
                }
            }
            _ => Err(self.unexpected("a node: 0 or a node name")),
        }
    }

    fn pid(&mut self) -> Result<Term, ParseError> {
        self.eat("<");
        let node = self.node()?;
        self.expect(".", "'.'")?;
        let id = self.small("a process number")?;
        self.expect(".", "'.'")?;
        let serial = self.small("a serial")?;
        self.expect(">", "'>'")?;
        Ok(Term::Pid(Pid {
            node,
            id,
            serial,
            creation: 0,
        }))
    }

    fn port(&mut self) -> Result<Term, ParseError> {
        self.eat("#Port<");
        let node = self.node()?;
        self.expect(".", "'.'")?;
        let id = self.small("a port number")?;
        self.expect(">", "'>'")?;
        Ok(Term::Port(Port {
            node,
            id,
            creation: 0,
        }))
    }

    fn reference(&mut self) -> Result<Term, ParseError> {
        self.eat("#Ref<");
        let node = self.node()?;
        let mut ids: Vec<u32> = Vec::new();
        while self.eat(".") {
            if ids.len() == 5 {
                return Err(self.err(ParseErrorKind::Identifier(
                    "a reference has at most 5 words".into(),
                )));
            }
            ids.push(self.small("a reference word")?);
        }
        if ids.is_empty() {
            return Err(self.unexpected("'.'"));
        }
        self.expect(">", "'.' or '>'")?;
        // Printed most significant first; stored in wire order.
        ids.reverse();
        Ok(Term::Reference(Reference {
            node,
            creation: 0,
            ids,
        }))
    }
}

/// `[A, B | Tail]`, flattened when `Tail` is itself a list.
fn improper(mut items: Vec<Term>, tail: Term) -> Term {
    match tail {
        Term::List(rest) => {
            items.extend(rest);
            Term::List(items)
        }
        Term::ImproperList(rest, tail) => {
            items.extend(rest);
            Term::ImproperList(items, tail)
        }
        tail => Term::ImproperList(items, Box::new(tail)),
    }
}

/// First character of an unquoted atom: `[a-z]` or a Latin-1 lowercase letter.
fn is_atom_start(c: char) -> bool {
    c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}')
}

/// First character of a variable: `[A-Z]` or a Latin-1 uppercase letter.
fn is_variable_start(c: char) -> bool {
    c.is_ascii_uppercase() || (('\u{c0}'..='\u{de}').contains(&c) && c != '\u{d7}')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || c == '@'
        || (('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
}

// ---- binary segments ----

enum SegValue {
    Int(BigInt),
    Float(f64),
    Str(Vec<u32>),
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum SegType {
    #[default]
    Integer,
    Float,
    Binary,
    Utf8,
    Utf16,
    Utf32,
}

/// A segment's type specifier list.
#[derive(Default)]
struct Spec {
    ty: SegType,
    little: bool,
    unit: Option<usize>,
}

impl Spec {
    /// Applies one specifier; `false` if unknown.
    fn set(&mut self, name: &str) -> bool {
        match name {
            "integer" => self.ty = SegType::Integer,
            "float" => self.ty = SegType::Float,
            "binary" | "bytes" | "bitstring" | "bits" => self.ty = SegType::Binary,
            "utf8" => self.ty = SegType::Utf8,
            "utf16" => self.ty = SegType::Utf16,
            "utf32" => self.ty = SegType::Utf32,
            "big" => self.little = false,
            "little" => self.little = true,
            "native" => self.little = cfg!(target_endian = "little"),
            "signed" | "unsigned" => {}
            _ => return false,
        }
        true
    }

    /// Writes `value` as this segment, or says why it cannot be built.
    /// `max_bits`: the largest segment this text may build.
    fn build(
        &self,
        value: SegValue,
        size: Option<usize>,
        max_bits: usize,
        w: &mut BitWriter,
    ) -> Result<(), String> {
        let unit = self.unit.unwrap_or(1);
        if !(1..=256).contains(&unit) {
            return Err(format!("unit {unit} is not in 1..256"));
        }
        let bits = |default: usize| {
            size.unwrap_or(default)
                .checked_mul(if size.is_some() { unit } else { 1 })
                .filter(|b| *b <= max_bits)
                .ok_or_else(|| "segment too large".to_owned())
        };
        let utf = matches!(self.ty, SegType::Utf8 | SegType::Utf16 | SegType::Utf32);
        if utf && (size.is_some() || self.unit.is_some()) {
            return Err("utf segments take no size or unit".into());
        }
        match (value, self.ty) {
            (SegValue::Str(chars), SegType::Integer) => {
                let bits = bits(8)?;
                for c in chars {
                    w.push_int(&BigInt::from(c), bits, self.little);
                }
                Ok(())
            }
            (SegValue::Str(chars), _) if utf => {
                for c in chars {
                    self.push_char(c, w)?;
                }
                Ok(())
            }
            (SegValue::Int(n), SegType::Integer) => {
                w.push_int(&n, bits(8)?, self.little);
                Ok(())
            }
            (SegValue::Int(n), _) if utf => {
                let c = n
                    .to_u32()
                    .ok_or_else(|| format!("{n} is not a character"))?;
                self.push_char(c, w)
            }
            (SegValue::Int(n), SegType::Float) => {
                let x = n.to_f64().filter(|x| x.is_finite());
                let x = x.ok_or_else(|| format!("{n} does not fit a float"))?;
                self.push_float(x, bits(64)?, w)
            }
            (SegValue::Float(x), SegType::Float) => self.push_float(x, bits(64)?, w),
            (SegValue::Float(_), SegType::Integer) => {
                Err("a float value needs the /float type".into())
            }
            (SegValue::Str(_), SegType::Float) => Err("a string cannot be a float".into()),
            (_, _) => Err("binary-typed segments need a binary value".into()),
        }
    }

    fn push_char(&self, c: u32, w: &mut BitWriter) -> Result<(), String> {
        let ch = char::from_u32(c).ok_or_else(|| format!("{c} is not a character"))?;
        match self.ty {
            SegType::Utf8 => {
                let mut buf = [0u8; 4];
                w.push_bytes(ch.encode_utf8(&mut buf).as_bytes());
            }
            SegType::Utf16 => {
                let mut buf = [0u16; 2];
                for unit in ch.encode_utf16(&mut buf) {
                    let b = if self.little {
                        unit.to_le_bytes()
                    } else {
                        unit.to_be_bytes()
                    };
                    w.push_bytes(&b);
                }
            }
            _ => {
                let b = if self.little {
                    c.to_le_bytes()
                } else {
                    c.to_be_bytes()
                };
                w.push_bytes(&b);
            }
        }
        Ok(())
    }

    fn push_float(&self, x: f64, bits: usize, w: &mut BitWriter) -> Result<(), String> {
        match bits {
            64 => {
                let b = if self.little {
                    x.to_le_bytes()
                } else {
                    x.to_be_bytes()
                };
                w.push_bytes(&b);
            }
            32 => {
                let y = x as f32;
                if !y.is_finite() {
                    return Err(format!("{x} does not fit a 32-bit float"));
                }
                let b = if self.little {
                    y.to_le_bytes()
                } else {
                    y.to_be_bytes()
                };
                w.push_bytes(&b);
            }
            _ => return Err(format!("float segments are 32 or 64 bits, not {bits}")),
        }
        Ok(())
    }
}

// ---- maps ----

/// Map entries being read; a later duplicate key replaces the earlier
/// value (as `#{a => 1, a => 2}` is `#{a => 2}`), found by hash so that a
/// large map reads in linear time.
#[derive(Default)]
struct MapBuilder {
    entries: Vec<(Term, Term)>,
    by_hash: HashMap<u64, Vec<usize>>,
}

impl MapBuilder {
    fn insert(&mut self, key: Term, value: Term) {
        let h = term_hash(&key);
        let slots = self.by_hash.entry(h).or_default();
        for &i in slots.iter() {
            if let Some(entry) = self.entries.get_mut(i) {
                if entry.0 == key {
                    entry.1 = value;
                    return;
                }
            }
        }
        slots.push(self.entries.len());
        self.entries.push((key, value));
    }

    /// The map, its entries in stored order: a map of more than 32 keys
    /// (a hash trie in OTP) is printed last entry first (see
    /// `print::push_map`), so it is read back in reverse.
    fn finish(mut self) -> Map {
        if self.entries.len() > super::print::FLATMAP_MAX {
            self.entries.reverse();
        }
        Map {
            entries: self.entries,
        }
    }
}

/// A hash consistent with `Term`'s `==` (maps hash by size only, since
/// their equality ignores order). Iterative, like everything here.
fn term_hash(t: &Term) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut todo = vec![t];
    while let Some(t) = todo.pop() {
        std::mem::discriminant(t).hash(&mut h);
        match t {
            Term::Atom(a) => a.hash(&mut h),
            Term::Int(i) => i.hash(&mut h),
            Term::BigInt(n) => n.hash(&mut h),
            Term::Float(x) => x.to_bits().hash(&mut h),
            Term::Binary(b) => b.hash(&mut h),
            Term::BitString(b) => b.hash(&mut h),
            Term::List(items) | Term::Tuple(items) => {
                items.len().hash(&mut h);
                todo.extend(items.iter());
            }
            Term::ImproperList(items, tail) => {
                items.len().hash(&mut h);
                todo.extend(items.iter());
                todo.push(tail);
            }
            Term::Map(m) => m.len().hash(&mut h),
            Term::Pid(p) => p.hash(&mut h),
            Term::Port(p) => p.hash(&mut h),
            Term::Reference(r) => r.hash(&mut h),
            Term::Fun(f) => f.hash(&mut h),
        }
    }
    h.finish()
}
