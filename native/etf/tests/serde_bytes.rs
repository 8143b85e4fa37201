//! `etf::to_vec` / `etf::from_slice`: byte-exact against the BEAM's
//! `term_to_binary/1`, round trips, raw terms, and hostile input.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etf::serde::{Charlist, Error};
use etf::{from_slice, from_term, to_term, to_vec, Atom, BitString, Pid, Term};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

mod support;

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
#[serde(rename_all = "snake_case")]
enum Request {
    Value,
    Bump(i64),
    Move(i32, i32),
    Set { key: String, value: u8 },
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Point {
    x: i32,
    y: i32,
}

/// Fields declared out of key order, one of them a struct whose fields are too.
#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Shape {
    name: String,
    origin: Labelled,
    area: f64,
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Labelled {
    y: i32,
    x: i32,
    label: String,
}

/// A hand-written `Serialize` that writes field `a` twice (serde allows it).
#[derive(PartialEq, Debug)]
struct Twice;

impl Serialize for Twice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Twice", 3)?;
        st.serialize_field("b", &1)?;
        st.serialize_field("a", &2)?;
        st.serialize_field("a", &3)?;
        st.end()
    }
}

/// Evaluates each Erlang expression in one `erl` and returns `term_to_binary` of each.
fn erl_term_to_binary(exprs: &[&str]) -> Vec<Vec<u8>> {
    let program = format!(
        "Terms = [{}], [io:format(\"~s~n\", [binary:encode_hex(term_to_binary(T))]) || T <- Terms], halt().",
        exprs.join(",\n")
    );
    let mut child = Command::new("erl")
        .args(["-noshell", "-eval", &program])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("erl is installed (Erlang/OTP 25)");
    // Read while erl runs: its output is larger than a pipe buffer.
    let mut out = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("erl did not finish in time");
            }
        }
    }
    let text = reader.join().expect("reader thread").expect("erl output");
    let lines: Vec<Vec<u8>> = text.lines().map(unhex).collect();
    assert_eq!(lines.len(), exprs.len(), "erl printed:\n{text}");
    lines
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from erl"))
        .collect()
}

type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// An Erlang expression and the Rust value that must encode to the same bytes
/// (and decode from them).
struct Case {
    erl: &'static str,
    ours: Vec<u8>,
    back: Check,
}

fn case<T>(erl: &'static str, value: T) -> Case
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
{
    let ours = to_vec(&value).unwrap_or_else(|e| panic!("to_vec for {erl}: {e}"));
    Case {
        erl,
        ours,
        back: Box::new(move |bytes| {
            let got: T = from_slice(bytes).map_err(|e| e.to_string())?;
            if got == value {
                Ok(())
            } else {
                Err(format!("from_slice gave {got:?}, expected {value:?}"))
            }
        }),
    }
}

fn cases() -> Vec<Case> {
    let mut tuple_keys = HashMap::new();
    tuple_keys.insert((1u8, String::from("a")), vec![true]);
    let mut sorted = BTreeMap::new();
    sorted.insert(String::from("b"), 1);
    sorted.insert(String::from("a"), 2);
    let mixed: etf::Map = [
        (Term::binary(vec![]), Term::atom("g")),
        (Term::nil(), Term::atom("f")),
        (Term::Tuple(vec![]), Term::atom("e")),
        (Term::atom("c"), Term::atom("d")),
        (Term::Float(2.5), Term::atom("b")),
        (Term::Int(1), Term::atom("a")),
    ]
    .into_iter()
    .collect();
    vec![
        case("true", true),
        case("false", false),
        case("0", 0u8),
        case("255", 255u8),
        case("256", 256u16),
        case("-1", -1i8),
        case("-2147483648", i32::MIN),
        case("2147483647", i32::MAX),
        case("2147483648", 2147483648i64),
        case("-2147483649", -2147483649i64),
        case("(1 bsl 64) - 1", u64::MAX),
        case("-(1 bsl 63)", i64::MIN),
        case("-(1 bsl 127)", i128::MIN),
        case("(1 bsl 128) - 1", u128::MAX),
        case("1.5", 1.5f64),
        case("-2.0e-300", -2.0e-300f64),
        case("$a", 'a'),
        case("<<\"h\\x{e9}llo\"/utf8>>", String::from("héllo")),
        case("<<>>", String::new()),
        case("\"h\\x{e9}llo\"", Charlist::from("héllo")),
        case("[104, 8364]", Charlist::from("h€")),
        case("[1,2,3]", vec![1u8, 2, 3]),
        case("[1,2,300]", vec![1u16, 2, 300]),
        case("[-1]", vec![-1i32]),
        case("[]", Vec::<i32>::new()),
        case("lists:duplicate(70000, 7)", vec![7u8; 70000]),
        case("[undefined, 3]", vec![None, Some(3)]),
        case("{}", ()),
        case("{1, <<\"x\">>}", (1u8, String::from("x"))),
        case(
            "list_to_tuple(lists:seq(1, 300))",
            Term::Tuple((1..=300).map(Term::Int).collect()),
        ),
        case("#{x => 1, y => 2}", Point { x: 1, y: 2 }),
        case(
            "#{name => <<\"sq\">>, origin => #{y => -2, x => 1, label => <<\"o\">>}, area => 4.0}",
            Shape {
                name: "sq".into(),
                origin: Labelled {
                    y: -2,
                    x: 1,
                    label: "o".into(),
                },
                area: 4.0,
            },
        ),
        case(
            "[#{y => I, x => -I, label => <<\"p\">>} || I <- [1, 300, 70000]]",
            [1, 300, 70000]
                .map(|i| Labelled {
                    y: i,
                    x: -i,
                    label: "p".into(),
                })
                .to_vec(),
        ),
        case("#{<<\"b\">> => 1, <<\"a\">> => 2}", sorted),
        case("#{{1, <<\"a\">>} => [true]}", tuple_keys),
        case(
            "#{<<>> => g, [] => f, {} => e, c => d, 2.5 => b, 1 => a}",
            Term::Map(mixed),
        ),
        case("value", Request::Value),
        case("{bump, 5}", Request::Bump(5)),
        case("{move, 1, -2}", Request::Move(1, -2)),
        case(
            "{set, #{key => <<\"k\">>, value => 9}}",
            Request::Set {
                key: "k".into(),
                value: 9,
            },
        ),
        case("'h\\x{e9}llo w\\x{f6}rld'", Atom::new("héllo wörld")),
        case("list_to_atom([8364, $u])", Atom::new("€u")),
        case(
            "list_to_atom(lists:duplicate(100, 8364))",
            Atom::new(&"€".repeat(100)),
        ),
        case(
            "[1 | 2]",
            Term::ImproperList(vec![Term::Int(1)], Box::new(Term::Int(2))),
        ),
        case(
            "<<1, 2:3>>",
            Term::from(BitString {
                bytes: vec![1, 0b0100_0000].into(),
                last_bits: 3,
            }),
        ),
        case(
            "(1 bsl 2100)",
            Term::from_bigint(num_bigint::BigInt::from(1) << 2100),
        ),
    ]
}

#[test]
fn to_vec_is_byte_identical_to_term_to_binary_and_from_slice_reads_it() {
    let cases = cases();
    let exprs: Vec<&str> = cases.iter().map(|c| c.erl).collect();
    let beam = erl_term_to_binary(&exprs);
    for (c, bytes) in cases.iter().zip(&beam) {
        assert_eq!(
            c.ours, *bytes,
            "to_vec differs from term_to_binary({})",
            c.erl
        );
        (c.back)(bytes).unwrap_or_else(|e| panic!("from_slice of term_to_binary({}): {e}", c.erl));
    }
}

#[derive(Serialize, Deserialize, Debug)]
struct GenCall(Atom, (Pid, Term), Request);

#[test]
fn pids_refs_ports_and_funs_pass_through_byte_for_byte() {
    let exprs = [
        "{'$gen_call', {self(), make_ref()}, {bump, 5}}",
        "{'$gen_call', {self(), [alias | make_ref()]}, value}",
        "fun lists:map/2",
        "fun() -> ok end",
        "hd(erlang:ports())",
        "{self(), make_ref(), hd(erlang:ports())}",
    ];
    let beam = erl_term_to_binary(&exprs);

    let call: GenCall = from_slice(&beam[0]).unwrap();
    assert_eq!(call.0, Atom::new("$gen_call"));
    assert_eq!(call.2, Request::Bump(5));
    assert!(matches!(call.1 .1, Term::Reference(_)));
    assert_eq!(to_vec(&call).unwrap(), beam[0]);

    let call: GenCall = from_slice(&beam[1]).unwrap();
    assert_eq!(call.2, Request::Value);
    assert!(matches!(call.1 .1, Term::ImproperList(..)));
    assert_eq!(to_vec(&call).unwrap(), beam[1]);

    for bytes in &beam[2..] {
        let term: Term = from_slice(bytes).unwrap();
        assert_eq!(&to_vec(&term).unwrap(), bytes, "{term:?}");
        // And through the in-memory path too.
        assert_eq!(from_term::<Term>(&to_term(&term).unwrap()).unwrap(), term);
    }
}

/// The task's comparison: reading a message straight from bytes gives the
/// same value as decoding to a Term first and reading that.
#[test]
fn from_slice_agrees_with_decode_then_from_term() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct State {
        name: String,
        points: Vec<Point>,
        last: Option<Request>,
        tags: BTreeMap<String, (u8, bool)>,
        owner: Pid,
    }
    let state = State {
        name: "top_sup".into(),
        points: (0..50).map(|i| Point { x: i, y: i * i }).collect(),
        last: Some(Request::Set {
            key: "k".into(),
            value: 3,
        }),
        tags: [("a".to_string(), (1, true))].into_iter().collect(),
        owner: Pid {
            node: Atom::new("a@host"),
            id: 7,
            serial: 0,
            creation: 1,
        },
    };
    let bytes = to_vec(&state).unwrap();
    let direct: State = from_slice(&bytes).unwrap();
    let via_term: State = from_term(&etf::decode(&bytes).unwrap()).unwrap();
    assert_eq!(direct, via_term);
    assert_eq!(direct, state);
}

#[test]
fn from_slice_borrows_strings_from_the_input() {
    #[derive(Deserialize)]
    struct Named<'a> {
        name: &'a str,
        #[serde(borrow)]
        tag: &'a [u8],
    }
    #[derive(Serialize)]
    struct Owned {
        name: String,
        #[serde(with = "bytes_field")]
        tag: Vec<u8>,
    }
    let bytes = to_vec(&Owned {
        name: "counter".into(),
        tag: vec![1, 2, 3],
    })
    .unwrap();
    let named: Named = from_slice(&bytes).unwrap();
    assert_eq!(named.name, "counter");
    assert_eq!(named.tag, [1, 2, 3]);
    // No intermediate Term: both point into the input.
    let range = bytes.as_ptr_range();
    assert!(range.contains(&named.name.as_ptr()));
    assert!(range.contains(&named.tag.as_ptr()));
}

mod bytes_field {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
}

#[test]
fn compressed_terms_are_inflated() {
    use flate2::write::ZlibEncoder;
    use std::io::Write;
    let plain = to_vec(&vec![Request::Bump(7); 50]).unwrap();
    let mut z = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain[1..]).unwrap();
    let mut bytes = vec![131, 80];
    bytes.extend_from_slice(&((plain.len() - 1) as u32).to_be_bytes());
    bytes.extend_from_slice(&z.finish().unwrap());
    assert_eq!(
        from_slice::<Vec<Request>>(&bytes).unwrap(),
        vec![Request::Bump(7); 50]
    );
    // A header that lies about the size is an error.
    bytes[5] ^= 1;
    assert!(from_slice::<Vec<Request>>(&bytes).is_err());
}

#[test]
fn mismatch_errors_carry_the_offset_of_the_term() {
    let bytes = to_vec(&Term::atom("bump")).unwrap();
    let err = from_slice::<Request>(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 1: expected tuple {bump, _}, found atom bump"
    );
    assert_eq!(err.offset(), Some(1));

    // [value, {bump, 5}, 300] read as Vec<(u8)>-shaped requests: the 300 is at byte 22.
    let bytes = to_vec(&(Request::Value, Request::Bump(5), 300)).unwrap();
    let err = from_slice::<(Request, Request, u8)>(&bytes).unwrap_err();
    assert_eq!(err.offset(), Some(bytes.len() - 5));
    assert_eq!(err.kind().to_string(), "expected u8, found integer 300");

    let bytes = to_vec(&Point { x: 1, y: 2 }).unwrap();
    let err = from_slice::<(i32, i32)>(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 1: expected tuple of 2 elements, found map #{x => 1,y => 2}"
    );
}

#[test]
fn malformed_input_is_an_error_with_an_offset() {
    let e = |b: &[u8]| from_slice::<Term>(b).unwrap_err();
    assert_eq!(e(&[]).offset(), Some(0));
    assert_eq!(
        e(&[130, 97, 1]).to_string(),
        "at byte 0: invalid ETF: version byte 130, expected 131"
    );
    assert_eq!(
        e(&[131, 97]).to_string(),
        "at byte 2: unexpected end of input"
    );
    assert_eq!(
        e(&[131, 200]).to_string(),
        "at byte 1: invalid ETF: unknown tag 200"
    );
    assert_eq!(
        e(&[131, 97, 1, 0]).to_string(),
        "at byte 3: 1 trailing bytes after the term"
    );
    // Claims 4 GiB of elements / bytes, has none: fails without allocating them.
    assert_eq!(
        e(&[131, 108, 255, 255, 255, 255]).to_string(),
        "at byte 2: invalid ETF: list length 4294967295 exceeds remaining input"
    );
    let huge_binary = [131, 109, 255, 255, 255, 255, 1];
    assert!(matches!(e(&huge_binary).kind(), Error::Syntax(_)));
    assert!(matches!(
        from_slice::<&[u8]>(&huge_binary).unwrap_err().kind(),
        Error::Eof
    ));
    assert!(matches!(
        from_slice::<Vec<u8>>(&[131, 108, 255, 255, 255, 255, 97, 1])
            .unwrap_err()
            .kind(),
        Error::Eof
    ));
    let improper = to_vec(&Term::ImproperList(
        vec![Term::Int(1)],
        Box::new(Term::Int(2)),
    ))
    .unwrap();
    let err = from_slice::<Vec<u8>>(&improper).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 1: expected proper list, found improper list [1|2]"
    );
}

#[test]
fn a_repeated_struct_field_is_written_as_to_term_writes_it() {
    let term = to_term(&Twice).unwrap();
    assert_eq!(to_vec(&Twice).unwrap(), etf::encode(&term));
    assert_eq!(
        term,
        Term::Map(
            [
                (Term::atom("a"), Term::Int(3)),
                (Term::atom("b"), Term::Int(1))
            ]
            .into_iter()
            .collect()
        )
    );
}

#[test]
fn text_is_checked_as_utf8_whether_ascii_or_not() {
    // Binaries read as String: ASCII, multi-byte UTF-8, and invalid bytes.
    let bin = |b: &[u8]| {
        let mut v = vec![131, 109];
        v.extend_from_slice(&(b.len() as u32).to_be_bytes());
        v.extend_from_slice(b);
        v
    };
    assert_eq!(from_slice::<String>(&bin(b"plain")).unwrap(), "plain");
    assert_eq!(
        from_slice::<&str>(&bin("h\u{e9}llo \u{1f600}".as_bytes())).unwrap(),
        "h\u{e9}llo \u{1f600}"
    );
    assert_eq!(
        from_slice::<String>(&bin(b"ok\xff"))
            .unwrap_err()
            .to_string(),
        "at byte 1: expected string (UTF-8 binary), found binary <<111,107,255>> (invalid UTF-8)"
    );
    // UTF-8 atoms (SMALL_ATOM_UTF8_EXT) as strings and as struct field names.
    let atom = |b: &[u8]| {
        let mut v = vec![131, 119, b.len() as u8];
        v.extend_from_slice(b);
        v
    };
    assert_eq!(
        from_slice::<String>(&atom("\u{e9}t\u{e9}".as_bytes())).unwrap(),
        "\u{e9}t\u{e9}"
    );
    assert!(matches!(
        from_slice::<String>(&atom(b"a\xc3")).unwrap_err().kind(),
        Error::Syntax(_)
    ));
    let mut point = vec![131, 116, 0, 0, 0, 2];
    for (key, value) in [(&b"x"[..], 1u8), (&b"y"[..], 2)] {
        point.extend_from_slice(&atom(key)[1..]);
        point.extend_from_slice(&[97, value]);
    }
    assert_eq!(from_slice::<Point>(&point).unwrap(), Point { x: 1, y: 2 });
    point[8] = 0xff; // the first key is no longer UTF-8
    assert!(matches!(
        from_slice::<Point>(&point).unwrap_err().kind(),
        Error::Syntax(_)
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // [[[[...]]]] 100 000 deep.
    let depth = 100_000;
    let mut bytes = vec![131];
    for _ in 0..depth {
        bytes.extend_from_slice(&[108, 0, 0, 0, 1]);
    }
    bytes.push(106);
    bytes.extend(std::iter::repeat_n(106, depth));
    assert!(from_slice::<Term>(&bytes).is_err());
    assert!(from_slice::<serde::de::IgnoredAny>(&bytes).is_err());
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested(Vec<Nested>);
    assert!(from_slice::<Nested>(&bytes).is_err());
}

#[test]
fn unknown_struct_fields_are_skipped() {
    #[derive(Serialize)]
    struct Wide {
        x: i32,
        extra: (Term, Vec<String>, BTreeMap<u8, f64>),
        y: i32,
    }
    let pid = Term::Pid(Pid {
        node: Atom::new("a@b"),
        id: 1,
        serial: 2,
        creation: 3,
    });
    let bytes = to_vec(&Wide {
        x: 1,
        extra: (pid, vec!["s".into()], [(1, 0.5)].into_iter().collect()),
        y: 2,
    })
    .unwrap();
    assert_eq!(from_slice::<Point>(&bytes).unwrap(), Point { x: 1, y: 2 });
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;

    /// to_vec → from_slice gives the value back; to_vec is etf::encode of
    /// to_term's term; etf::decode of the bytes is that term, and
    /// from_term of it gives the value too.
    fn agree<T>(v: T) -> Result<(), TestCaseError>
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let fail = |e: Error| TestCaseError::fail(e.to_string());
        let bytes = to_vec(&v).map_err(fail)?;
        let back: T = from_slice(&bytes).map_err(fail)?;
        prop_assert_eq!(&back, &v);
        let term = to_term(&v).map_err(fail)?;
        prop_assert_eq!(&etf::encode(&term), &bytes);
        let decoded = etf::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &term);
        prop_assert_eq!(from_term::<T>(&decoded).map_err(fail)?, v);
        Ok(())
    }

    proptest! {
        #[test]
        fn integers(a: i64, b: u64, c: i128, d: u128, e: i8, f: u16, g: i32) {
            agree((a, b, c, d, e, f, g))?;
        }

        #[test]
        fn floats(x in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL) {
            agree(x)?;
        }

        #[test]
        fn strings_chars_and_charlists(s: String, c: char) {
            agree((s.clone(), c))?;
            agree(Charlist(s))?;
        }

        #[test]
        fn collections(v: Vec<Option<i32>>, m: BTreeMap<String, (bool, u8)>, h: HashMap<(u8, i64), Vec<u8>>) {
            agree((v, m, h))?;
        }

        #[test]
        fn requests(n: i64, a: i32, b: i32, key: String, value: u8) {
            agree(vec![Request::Value, Request::Bump(n), Request::Move(a, b), Request::Set { key, value }])?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = vec![131];
            bytes.extend(body);
            let _ = from_slice::<Term>(&bytes);
            let _ = from_slice::<Vec<Request>>(&bytes);
            let _ = from_slice::<(Point, String, Option<f64>)>(&bytes);
            let _ = from_slice::<serde::de::IgnoredAny>(&bytes);
        }
    }
}

mod any_term {
    use super::*;
    use proptest::prelude::*;
    use support::term;

    proptest! {
        #[test]
        fn every_term_passes_through_all_four_paths(t in term()) {
            let fail = |e: Error| TestCaseError::fail(e.to_string());
            prop_assert_eq!(&to_term(&t).map_err(fail)?, &t);
            prop_assert_eq!(&from_term::<Term>(&t).map_err(fail)?, &t);
            let bytes = to_vec(&t).map_err(fail)?;
            prop_assert_eq!(&bytes, &etf::encode(&t));
            prop_assert_eq!(&from_slice::<Term>(&bytes).map_err(fail)?, &t);
            // A term inside a Rust value is written exactly as on its own.
            let wrapped = to_vec(&(Request::Value, &t)).map_err(fail)?;
            prop_assert_eq!(&wrapped[wrapped.len() - (bytes.len() - 1)..], &bytes[1..]);
        }

        /// The two deserializers (from a Term, straight from bytes) agree on
        /// every term: the same value, or the same error.
        #[test]
        fn from_slice_and_from_term_agree_on_any_term(t in term()) {
            let bytes = etf::encode(&t);
            // Decoded, the map entries are in the bytes' order, as from_slice sees them.
            let t = etf::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            /// Errors agree on what was expected; how the found term is
            /// described may differ (from_slice only summarises a large one).
            fn what(e: Error) -> String {
                match e.kind() {
                    Error::Mismatch { expected, .. } => format!("expected {expected}"),
                    other => other.to_string(),
                }
            }
            fn same<T: DeserializeOwned + PartialEq + std::fmt::Debug>(t: &Term, bytes: &[u8]) -> Result<(), TestCaseError> {
                let from_tree = from_term::<T>(t).map_err(what);
                let from_bytes = from_slice::<T>(bytes).map_err(what);
                prop_assert_eq!(from_tree, from_bytes, "for {:?}", t);
                Ok(())
            }
            same::<Request>(&t, &bytes)?;
            same::<Point>(&t, &bytes)?;
            same::<Vec<Option<i64>>>(&t, &bytes)?;
            same::<String>(&t, &bytes)?;
            same::<(u8, bool)>(&t, &bytes)?;
            same::<HashMap<String, i64>>(&t, &bytes)?;
            same::<Option<(Atom, Term)>>(&t, &bytes)?;
            same::<Vec<u128>>(&t, &bytes)?;
            same::<f64>(&t, &bytes)?;
        }

        #[test]
        fn maps_with_any_keys(m: HashMap<Vec<u8>, Vec<(i8, bool)>>, n: BTreeMap<(String, Option<u8>), ()>) {
            let fail = |e: Error| TestCaseError::fail(e.to_string());
            let bytes = to_vec(&(&m, &n)).map_err(fail)?;
            type Maps = (HashMap<Vec<u8>, Vec<(i8, bool)>>, BTreeMap<(String, Option<u8>), ()>);
            let back: Maps = from_slice(&bytes).map_err(fail)?;
            prop_assert_eq!(&back.0, &m);
            prop_assert_eq!(&back.1, &n);
            prop_assert_eq!(etf::encode(&to_term(&(&m, &n)).map_err(fail)?), bytes);
        }
    }
}
