//! Printer and parser unit tests; `tests/text_beam.rs` checks both against `erl`.

use bytes::Bytes;
use num_bigint::BigInt;
use proptest::prelude::*;

use super::*;
use crate::atom::atoms;
use crate::term::{BitString, Fun, Map, Pid, Port, Reference, Term};
use crate::Atom;

fn int(i: i64) -> Term {
    Term::Int(i)
}

fn string(s: &str) -> Term {
    Term::List(s.chars().map(|c| int(c as i64)).collect())
}

fn map(entries: Vec<(Term, Term)>) -> Term {
    Term::Map(entries.into_iter().collect())
}

fn bits(bytes: &[u8], last_bits: u8) -> Term {
    Term::from(BitString {
        bytes: Bytes::copy_from_slice(bytes),
        last_bits,
    })
}

fn parsed(text: &str) -> Term {
    match parse(text) {
        Ok(t) => t,
        Err(e) => panic!("parse({text:?}): {e}"),
    }
}

fn parse_error(text: &str) -> ParseError {
    match parse(text) {
        Ok(t) => panic!("parse({text:?}) gave {t}, wanted an error"),
        Err(e) => e,
    }
}

// ---- printing ----

#[test]
fn atoms_are_quoted_when_erlang_needs_quotes() {
    let shown: Vec<String> = [
        "ok", "EXIT", "a b", "", "héllo", "λx", "a@b", "end", "a\nb", "it's",
    ]
    .iter()
    .map(|s| Term::atom(s).to_string())
    .collect();
    assert_eq!(
        shown,
        ["ok", "'EXIT'", "'a b'", "''", "héllo", "'λx'", "a@b", "'end'", r"'a\nb'", r"'it\'s'"]
    );
}

#[test]
fn control_characters_escape_as_io_lib_does() {
    assert_eq!(
        string("\u{0}\u{7}\u{1b}\u{7f}").to_string(),
        "[0,7,27,127]",
        "not printable, so a list"
    );
    assert_eq!(
        Term::atom("\u{0}\u{7}\u{1b}\u{7f}\u{85}").to_string(),
        r"'\000\007\e\d\205'"
    );
}

#[test]
fn printable_lists_print_as_strings() {
    assert_eq!(string("abc").to_string(), r#""abc""#);
    assert_eq!(string("héllo λ\n\"").to_string(), r#""héllo λ\n\"""#);
    assert_eq!(Term::nil().to_string(), "[]");
    assert_eq!(Term::List(vec![int(97), int(1)]).to_string(), "[97,1]");
    assert_eq!(Term::List(vec![int(0x80)]).to_string(), "[128]");
    assert_eq!(Term::List(vec![int(0xd800)]).to_string(), "[55296]");
    assert_eq!(Term::List(vec![int(0xfffe)]).to_string(), "[65534]");
    assert_eq!(
        Term::List(vec![string("ab"), string("c")]).to_string(),
        r#"["ab","c"]"#
    );
}

#[test]
fn binaries_print_as_text_when_printable() {
    assert_eq!(Term::binary(&b"abc"[..]).to_string(), r#"<<"abc">>"#);
    assert_eq!(
        Term::binary("héllo".as_bytes().to_vec()).to_string(),
        r#"<<"héllo"/utf8>>"#
    );
    assert_eq!(Term::binary(vec![200, 201]).to_string(), r#"<<"ÈÉ">>"#);
    assert_eq!(Term::binary(vec![1, 2, 3]).to_string(), "<<1,2,3>>");
    assert_eq!(Term::binary(vec![97, 0]).to_string(), "<<97,0>>");
    assert_eq!(Term::binary(vec![194, 128]).to_string(), "<<194,128>>");
    assert_eq!(Term::binary(Vec::new()).to_string(), "<<>>");
}

#[test]
fn bitstrings_print_whole_bytes_then_the_tail_with_its_size() {
    assert_eq!(bits(&[1, 0b0100_0000], 3).to_string(), "<<1,2:3>>");
    assert_eq!(bits(&[0], 1).to_string(), "<<0:1>>");
    assert_eq!(bits(b"abc\x80", 1).to_string(), "<<97,98,99,1:1>>");
}

#[test]
fn containers_print_without_spaces_except_around_map_arrows() {
    let t = Term::tuple(vec![
        Term::atom("a"),
        Term::ImproperList(vec![int(1)], Box::new(int(2))),
        map(vec![
            (Term::atom("a"), int(1)),
            (string("k"), Term::List(vec![int(1)])),
        ]),
        Term::Tuple(vec![]),
        map(vec![]),
    ]);
    assert_eq!(t.to_string(), r#"{a,[1|2],#{a => 1,"k" => [1]},{},#{}}"#);
}

#[test]
fn integers_print_in_decimal_of_any_size() {
    assert_eq!(int(-5).to_string(), "-5");
    let big = Term::from_bigint(BigInt::from(1) << 100);
    assert_eq!(big.to_string(), "1267650600228229401496703205376");
}

#[test]
fn identifiers_print_as_erl_prints_local_ones() {
    let pid = Pid {
        node: atoms::nonode(),
        id: 42,
        serial: 0,
        creation: 0,
    };
    assert_eq!(Term::Pid(pid).to_string(), "<0.42.0>");
    let remote = Pid {
        node: Atom::new("rust@host"),
        ..pid
    };
    assert_eq!(Term::Pid(remote).to_string(), "<rust@host.42.0>");
    let port = Port {
        node: atoms::nonode(),
        id: 7,
        creation: 1,
    };
    assert_eq!(Term::Port(port).to_string(), "#Port<0.7>");
    let r = Reference {
        node: atoms::nonode(),
        creation: 0,
        ids: vec![127627, 560988161, 3635549386],
    };
    assert_eq!(
        Term::Reference(r).to_string(),
        "#Ref<0.3635549386.560988161.127627>"
    );
}

#[test]
fn export_funs_print_as_fun_module_function_arity() {
    // term_to_binary(fun lists:map/2) from OTP 25, without the 131.
    let mut bytes = vec![113, 100, 0, 5];
    bytes.extend_from_slice(b"lists");
    bytes.extend_from_slice(&[100, 0, 3]);
    bytes.extend_from_slice(b"map");
    bytes.extend_from_slice(&[97, 2]);
    let f = Term::Fun(Fun {
        bytes: Bytes::from(bytes),
    });
    assert_eq!(f.to_string(), "fun lists:map/2");
    let junk = Term::Fun(Fun {
        bytes: Bytes::from_static(&[112, 0]),
    });
    assert_eq!(junk.to_string(), "#Fun<?>");
}

fn nested_lists(depth: usize) -> Term {
    let mut t = Term::nil();
    for _ in 0..depth {
        t = Term::List(vec![t]);
    }
    t
}

#[test]
fn printing_deep_terms_does_not_recurse() {
    let depth = 200_000;
    let mut t = nested_lists(depth);
    let text = t.to_string();
    assert_eq!(text.len(), 2 * depth + 2);
    assert!(text.starts_with("[[[") && text.ends_with("]]]"));
    // Take it apart level by level: its recursive drop would overflow.
    while let Term::List(mut items) = t {
        t = items.pop().unwrap_or(int(0));
    }
}

// ---- parsing ----

#[test]
fn atoms_read_bare_and_quoted_with_every_escape() {
    assert_eq!(parsed("ok"), Term::atom("ok"));
    assert_eq!(parsed("a@b_C1"), Term::atom("a@b_C1"));
    assert_eq!(parsed("héllo"), Term::atom("héllo"));
    assert_eq!(parsed("maybe"), Term::atom("maybe"));
    assert_eq!(parsed("'EXIT'"), Term::atom("EXIT"));
    assert_eq!(
        parsed(r"'\x{3bb}\x41\101\n\s\^A\'\\\q'"),
        Term::atom("λAA\n \u{1}'\\q")
    );
}

#[test]
fn integers_read_in_every_form() {
    assert_eq!(parsed("42"), int(42));
    assert_eq!(parsed("-7"), int(-7));
    assert_eq!(parsed("- 7"), int(-7));
    assert_eq!(parsed("+7"), int(7));
    assert_eq!(parsed("1_000_000"), int(1_000_000));
    assert_eq!(parsed("16#FF"), int(255));
    assert_eq!(parsed("-16#ff"), int(-255));
    assert_eq!(parsed("2#1010_1010"), int(170));
    assert_eq!(parsed("36#Zz"), int(35 * 36 + 35));
    assert_eq!(parsed("$a"), int(97));
    assert_eq!(parsed("$ "), int(32));
    assert_eq!(parsed(r"$\n"), int(10));
    assert_eq!(parsed(r"$\x{1F600}"), int(0x1F600));
    assert_eq!(parsed("-$a"), int(-97));
    assert_eq!(parsed("9223372036854775807"), int(i64::MAX));
    assert_eq!(
        parsed("9223372036854775808"),
        Term::BigInt(BigInt::from(i64::MAX) + 1)
    );
    assert_eq!(parsed("-9223372036854775808"), int(i64::MIN));
}

#[test]
fn floats_read_in_every_form_erlang_prints() {
    for (text, want) in [
        ("1.0", 1.0),
        ("0.1", 0.1),
        ("1.0e100", 1.0e100),
        ("1.5e-7", 1.5e-7),
        ("2.0e+3", 2.0e3),
        ("2.0E3", 2.0e3),
        ("5.0e-324", 5.0e-324),
        ("1.7976931348623157e308", f64::MAX),
        ("1_0.2_5", 10.25),
    ] {
        assert_eq!(parsed(text), Term::Float(want), "{text}");
    }
    let neg_zero = parsed("-0.0");
    assert!(matches!(neg_zero, Term::Float(x) if x == 0.0 && x.is_sign_negative()));
    assert_eq!(
        parse_error("1.0e400").kind,
        ParseErrorKind::Number("1.0e400".into())
    );
}

#[test]
fn from_str_is_parse() {
    let t: Term = "{a, 1}".parse().unwrap();
    assert_eq!(t, Term::Tuple(vec![Term::atom("a"), int(1)]));
    assert!("{a,".parse::<Term>().is_err());
}

#[test]
fn integer_then_dot_ends_the_term() {
    assert_eq!(parsed("1."), int(1));
    assert_eq!(parsed("[1,2]. "), Term::List(vec![int(1), int(2)]));
    assert_eq!(parsed("{a}.\n"), Term::Tuple(vec![Term::atom("a")]));
}

#[test]
fn strings_read_as_code_point_lists_and_concatenate() {
    assert_eq!(parsed(r#""abc""#), string("abc"));
    assert_eq!(parsed(r#""ab" "c"  "d""#), string("abcd"));
    assert_eq!(
        parsed(r#""a\"b\\\x{3bb}\e\d\101""#),
        string("a\"b\\λ\u{1b}\u{7f}A")
    );
    assert_eq!(parsed(r#""""#), Term::nil());
}

#[test]
fn binaries_read_with_segments() {
    assert_eq!(parsed("<<>>"), Term::binary(Vec::new()));
    assert_eq!(parsed("<< >>"), Term::binary(Vec::new()));
    assert_eq!(parsed("<<1,2,3>>"), Term::binary(vec![1, 2, 3]));
    assert_eq!(parsed(r#"<<"abc">>"#), Term::binary(&b"abc"[..]));
    assert_eq!(
        parsed(r#"<<"héllo"/utf8>>"#),
        Term::binary("héllo".as_bytes().to_vec())
    );
    assert_eq!(parsed(r#"<<"é">>"#), Term::binary(vec![233]));
    assert_eq!(
        parsed(r#"<<"λ">>"#),
        Term::binary(vec![187]),
        "truncated as erl does"
    );
    assert_eq!(parsed("<<1,2:3>>"), bits(&[1, 0b0100_0000], 3));
    assert_eq!(parsed("<<300,-1>>"), Term::binary(vec![44, 255]));
    assert_eq!(parsed("<<1:16/little>>"), Term::binary(vec![1, 0]));
    assert_eq!(parsed("<<1:2/unit:8>>"), Term::binary(vec![0, 1]));
    assert_eq!(
        parsed(r#"<<"ab"/utf16>>"#),
        Term::binary(vec![0, 97, 0, 98])
    );
    assert_eq!(
        parsed(r#"<<"λ"/utf16-little>>"#),
        Term::binary(vec![187, 3])
    );
    assert_eq!(parsed("<<$a/utf32>>"), Term::binary(vec![0, 0, 0, 97]));
    assert_eq!(
        parsed("<<1.5/float>>"),
        Term::binary(vec![63, 248, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        parsed("<<1.5:32/float>>"),
        Term::binary(vec![63, 192, 0, 0])
    );
    assert_eq!(parsed(r#"<<"a" "b", 1:1>>"#), bits(&[97, 98, 0x80], 1));
    assert!(matches!(
        parse_error("<<1.5>>").kind,
        ParseErrorKind::Segment(_)
    ));
    assert!(matches!(
        parse_error("<<1/utf9>>").kind,
        ParseErrorKind::Segment(_)
    ));
    assert!(matches!(
        parse_error("<<a>>").kind,
        ParseErrorKind::Unexpected { .. }
    ));
}

#[test]
fn lists_tuples_and_maps_read_with_any_whitespace() {
    assert_eq!(
        parsed("[ 1 ,\n 2 | [3] ]"),
        Term::List(vec![int(1), int(2), int(3)])
    );
    assert_eq!(
        parsed("[1|[2|3]]"),
        Term::ImproperList(vec![int(1), int(2)], Box::new(int(3)))
    );
    assert_eq!(parsed("[$a|\"b\"]"), string("ab"));
    assert_eq!(parsed("{ }"), Term::Tuple(vec![]));
    assert_eq!(
        parsed("#{ a => 1, {x} => [], #{} => \"k\" } % comment\n."),
        map(vec![
            (Term::atom("a"), int(1)),
            (Term::Tuple(vec![Term::atom("x")]), Term::nil()),
            (map(vec![]), string("k")),
        ])
    );
}

#[test]
fn duplicate_map_keys_keep_the_last_value() {
    let t = parsed("#{a => 1, b => 2, a => 3}");
    let Term::Map(m) = t else {
        panic!("not a map: {t}")
    };
    assert_eq!(m.len(), 2);
    assert_eq!(m.get_atom("a"), Some(&int(3)));
}

#[test]
fn large_maps_read_in_linear_time() {
    let n = 50_000;
    let text = format!(
        "#{{{}}}",
        (0..n)
            .map(|i| format!("{i} => {i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = std::time::Instant::now();
    let Term::Map(m) = parsed(&text) else {
        panic!("not a map")
    };
    assert_eq!(m.len(), n);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn identifiers_read_back_as_printed() {
    for text in [
        "<0.42.0>",
        "<rust@host.42.7>",
        "<'a b'.1.2>",
        "#Port<0.7>",
        "#Ref<0.3635549386.560988161.127627>",
        "#Ref<rust@host.1.2.3.4.5>",
    ] {
        assert_eq!(parsed(text).to_string(), text);
    }
    let Term::Reference(r) = parsed("#Ref<0.3.2.1>") else {
        panic!("not a ref")
    };
    assert_eq!(
        r.ids,
        vec![1, 2, 3],
        "wire order is least significant first"
    );
    assert!(matches!(
        parse_error("<9032.42.3>").kind,
        ParseErrorKind::Identifier(_)
    ));
}

#[test]
fn errors_say_where_and_what() {
    let e = parse_error("{ok,\n  }");
    assert_eq!((e.offset, e.line, e.column), (7, 2, 3));
    assert_eq!(
        e.to_string(),
        "at line 2, column 3 (byte 7): unexpected '}', expected a term"
    );
    let e = parse_error("[1,2");
    assert_eq!(e.kind, ParseErrorKind::UnexpectedEnd("',', '|' or ']'"));
    assert_eq!(e.offset, 4);
    assert_eq!(
        parse_error("").kind,
        ParseErrorKind::UnexpectedEnd("a term")
    );
    assert_eq!(
        parse_error("{X}").kind,
        ParseErrorKind::Variable("X".into())
    );
    assert_eq!(parse_error("_").kind, ParseErrorKind::Variable("_".into()));
    assert_eq!(
        parse_error("end").kind,
        ParseErrorKind::ReservedWord("end".into())
    );
    assert_eq!(parse_error("fun lists:map/2").kind, ParseErrorKind::Fun);
    assert_eq!(parse_error("#Fun<erl_eval.1.2>").kind, ParseErrorKind::Fun);
    assert!(matches!(
        parse_error("ok ok").kind,
        ParseErrorKind::Unexpected { .. }
    ));
    assert!(matches!(
        parse_error("1 + 2").kind,
        ParseErrorKind::Unexpected { .. }
    ));
    assert!(matches!(
        parse_error("'unterminated").kind,
        ParseErrorKind::UnexpectedEnd(_)
    ));
    assert!(matches!(
        parse_error(&format!("'{}'", "a".repeat(256))).kind,
        ParseErrorKind::Atom(_)
    ));
    assert!(matches!(
        parse_error(r#""\x{110000}""#).kind,
        ParseErrorKind::Escape(_)
    ));
    assert!(matches!(
        parse_error("37#1").kind,
        ParseErrorKind::Number(_)
    ));
}

#[test]
fn a_million_open_brackets_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{", "#{"] {
        let text = open.repeat(1_000_000);
        assert_eq!(parse_error(&text).kind, ParseErrorKind::TooDeep);
    }
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let mut t = parsed(&ok);
    let mut depth = 0;
    while let Term::List(mut items) = t {
        depth += 1;
        t = match items.pop() {
            Some(inner) if items.is_empty() => inner,
            _ => break,
        };
    }
    assert_eq!(depth, MAX_DEPTH, "the innermost [] is a level too");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in "[\\[\\]{}#<>=|,.:/ 0-9a-zA-Z_$'\"\\\\xeE+\\-λ\n%]{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_unicode(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_damaged_term_text(
        t in arb_term(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        junk in "[\\[\\]{}#<>=|,.:/ 0-9a-z'\"\\\\$e_-]",
    ) {
        let chars: Vec<char> = t.to_string().chars().collect();
        let truncated: String = chars[..cut.index(chars.len() + 1)].iter().collect();
        let _ = parse(&truncated);
        let mut damaged = chars.clone();
        damaged.insert(at.index(chars.len() + 1), junk.chars().next().unwrap_or('x'));
        let _ = parse(&damaged.into_iter().collect::<String>());
    }

    #[test]
    fn printed_terms_read_back_equal(t in arb_term()) {
        let text = t.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, t, "text: {}", text);
    }

    #[test]
    fn every_finite_float_reads_back_exactly(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let text = Term::Float(x).to_string();
        prop_assert_eq!(parse(&text).ok(), Some(Term::Float(x)), "text: {}", text);
    }
}

/// Terms without identifiers or funs: the ones whose text must read back.
pub(crate) fn arb_term() -> impl Strategy<Value = Term> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Term::Int),
        any::<i128>().prop_map(|i| Term::from_bigint(BigInt::from(i) * BigInt::from(i))),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Term::Float),
        "\\PC{0,8}".prop_map(|s| Term::atom(&s)),
        "[a-z][a-zA-Z0-9_@]{0,6}".prop_map(|s| Term::atom(&s)),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Term::binary),
        "\\PC{0,8}".prop_map(|s| Term::binary(s.into_bytes())),
        (prop::collection::vec(any::<u8>(), 1..6), 1u8..8).prop_map(|(mut b, n)| {
            if let Some(last) = b.last_mut() {
                *last &= 0xffu8 << (8 - n);
            }
            bits(&b, n)
        }),
        "\\PC{0,8}".prop_map(|s| string(&s)),
        prop::collection::vec(0i64..0x11_0000, 0..6)
            .prop_map(|v| Term::List(v.into_iter().map(Term::Int).collect())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Term::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Term::Tuple),
            (prop::collection::vec(inner.clone(), 1..4), inner.clone()).prop_map(
                |(items, tail)| {
                    match tail {
                        Term::List(_) | Term::ImproperList(..) => Term::List(items),
                        tail => Term::ImproperList(items, Box::new(tail)),
                    }
                }
            ),
            prop::collection::vec((inner.clone(), inner), 0..4)
                .prop_map(|kv| Term::Map(kv.into_iter().collect::<Map>())),
        ]
    })
}

#[test]
fn a_printed_binary_of_any_size_reads_back_and_short_text_cannot_claim_more() {
    // 33 MiB, over the fixed bound: text as long as the binary may hold it.
    let len = (1 << 25) + 1;
    let text = format!("<<\"{}\">>", "a".repeat(len));
    match parse(&text) {
        Ok(Term::Binary(b)) => assert_eq!(b.len(), len),
        other => panic!("not the binary: {:?}", other.map(|t| t.to_string().len())),
    }
    // A short text still cannot build a large binary.
    assert!(parse("<<0:300000000>>").is_err());
    assert!(parse("<<\"a\":300000000/unit:8>>").is_err());
}

#[test]
fn limited_text_stops_at_the_limit_on_a_character_boundary() {
    let t = Term::List(vec![
        string("λλλλλλ"),
        Term::Binary(vec![0u8; 10_000_000].into()),
    ]);
    let short = t.limited(4).to_string();
    assert!(short.ends_with("..."), "{short}");
    assert!(short.len() <= 4 + 3, "{short}");
    let whole = t.limited(usize::MAX).to_string();
    assert_eq!(whole, t.to_string());
    // A 10 MB binary is not printed to be cut: the cut stops the printing.
    assert!(t.limited(100).to_string().len() <= 103);
}

#[test]
fn an_old_one_word_reference_prints_as_erl_prints_it() {
    let r = |ids: Vec<u32>| {
        Term::Reference(crate::Reference {
            node: crate::Atom::new("nonode@nohost"),
            creation: 0,
            ids,
        })
    };
    assert_eq!(r(vec![1]).to_string(), "#Ref<0.0.0.1>");
    assert_eq!(r(vec![3, 2, 1]).to_string(), "#Ref<0.1.2.3>");
}
