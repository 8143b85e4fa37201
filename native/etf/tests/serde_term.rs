//! `etf::to_term` / `etf::from_term`: one test per row of the mapping table
//! in `etf::serde`, plus the shape-mismatch errors and raw-term pass-through.

use std::collections::{BTreeMap, HashMap};

use etf::serde::{Charlist, Error};
use etf::{from_term, from_term_ref, to_term, Atom, Map, Pid, Reference, Term};
use serde::{Deserialize, Serialize};

fn atom(s: &str) -> Term {
    Term::atom(s)
}

fn bin(s: &str) -> Term {
    Term::binary(s.as_bytes().to_vec())
}

fn tuple(items: Vec<Term>) -> Term {
    Term::Tuple(items)
}

fn pid() -> Pid {
    Pid {
        node: Atom::new("a@host"),
        id: 42,
        serial: 1,
        creation: 7,
    }
}

/// `to_term(v) == t` and `from_term(t) == v`.
fn both_ways<T>(value: T, term: Term)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    assert_eq!(to_term(&value).unwrap(), term, "to_term({value:?})");
    assert_eq!(from_term::<T>(&term).unwrap(), value, "from_term({term:?})");
}

#[test]
fn bool_is_the_atoms_true_and_false() {
    both_ways(true, atom("true"));
    both_ways(false, atom("false"));
    assert!(from_term::<bool>(&atom("yes")).is_err());
}

#[test]
fn integers_of_every_width_are_integers() {
    both_ways(-5i8, Term::Int(-5));
    both_ways(300i16, Term::Int(300));
    both_ways(i32::MIN, Term::Int(i32::MIN.into()));
    both_ways(i64::MAX, Term::Int(i64::MAX));
    both_ways(255u8, Term::Int(255));
    both_ways(u16::MAX, Term::Int(65535));
    both_ways(u32::MAX, Term::Int(u32::MAX.into()));
    both_ways(7u64, Term::Int(7));
}

#[test]
fn integers_beyond_i64_are_bignums() {
    use num_bigint::BigInt;
    both_ways(u64::MAX, Term::BigInt(BigInt::from(u64::MAX)));
    both_ways(i128::MIN, Term::BigInt(BigInt::from(i128::MIN)));
    both_ways(u128::MAX, Term::BigInt(BigInt::from(u128::MAX)));
    // A bignum that fits in i64 after all is normalised to Int.
    both_ways(5i128, Term::Int(5));
}

#[test]
fn integer_out_of_range_is_a_mismatch() {
    let err = from_term::<u8>(&Term::Int(300)).unwrap_err();
    assert_eq!(err.to_string(), "expected u8, found integer 300");
    assert!(from_term::<u32>(&Term::Int(-1)).is_err());
    assert!(from_term::<i64>(&Term::BigInt(num_bigint::BigInt::from(u64::MAX))).is_err());
}

#[test]
fn floats_are_floats_and_integers_are_accepted_as_floats() {
    both_ways(1.5f64, Term::Float(1.5));
    both_ways(-0.25f32, Term::Float(-0.25));
    assert_eq!(from_term::<f64>(&Term::Int(2)).unwrap(), 2.0);
}

#[test]
fn nan_and_infinity_cannot_be_serialized() {
    assert!(matches!(to_term(&f64::NAN), Err(Error::NonFiniteFloat(_))));
    assert!(matches!(
        to_term(&f32::INFINITY),
        Err(Error::NonFiniteFloat(_))
    ));
}

#[test]
fn char_is_its_code_point() {
    both_ways('a', Term::Int(97));
    both_ways('é', Term::Int(0xe9));
    assert!(from_term::<char>(&Term::Int(0xD800)).is_err());
}

#[test]
fn string_is_a_utf8_binary() {
    both_ways(String::from("héllo"), bin("héllo"));
    assert_eq!(to_term("x").unwrap(), bin("x"));
    assert!(from_term::<String>(&Term::binary(vec![0xff])).is_err());
}

#[test]
fn string_deserializes_from_a_charlist() {
    let list = Term::List("héllo".chars().map(|c| Term::Int(c as i64)).collect());
    assert_eq!(from_term::<String>(&list).unwrap(), "héllo");
    assert_eq!(from_term::<String>(&Term::nil()).unwrap(), "");
    assert!(from_term::<String>(&Term::List(vec![Term::Int(-1)])).is_err());
}

#[test]
fn string_deserializes_from_an_atom() {
    assert_eq!(from_term::<String>(&atom("value")).unwrap(), "value");
    let value = atom("value");
    let s: &str = from_term_ref(&value).unwrap();
    assert_eq!(s, "value");
}

#[test]
fn str_borrows_from_a_binary() {
    let t = bin("borrowed");
    let s: &str = from_term_ref(&t).unwrap();
    assert_eq!(s, "borrowed");
    let Term::Binary(b) = &t else { unreachable!() };
    assert_eq!(s.as_ptr(), b.as_ptr());
}

#[test]
fn charlist_is_a_list_of_code_points() {
    let list = Term::List(vec![Term::Int(104), Term::Int(0x20ac)]);
    both_ways(Charlist::from("h€"), list);
    assert_eq!(
        from_term::<Charlist>(&bin("ab")).unwrap(),
        Charlist::from("ab")
    );
}

#[test]
fn bytes_are_a_binary() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Blob(#[serde(with = "bytes_field")] Vec<u8>);
    both_ways(Blob(vec![0, 1, 255]), Term::binary(vec![0, 1, 255]));
    let list = Term::List(vec![Term::Int(1), Term::Int(2)]);
    assert_eq!(from_term::<Blob>(&list).unwrap(), Blob(vec![1, 2]));
    let blob = Term::binary(vec![9, 8]);
    let b: &[u8] = from_term_ref(&blob).unwrap();
    assert_eq!(b, [9, 8]);
}

mod bytes_field {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

#[test]
fn none_is_undefined_and_some_is_the_value() {
    both_ways(None::<i32>, atom("undefined"));
    both_ways(Some(3), Term::Int(3));
    assert_eq!(from_term::<Option<i32>>(&atom("nil")).unwrap(), None);
}

#[test]
fn unit_is_the_empty_tuple() {
    both_ways((), tuple(vec![]));
    assert!(from_term::<()>(&atom("ok")).is_err());
}

#[test]
fn unit_struct_is_an_atom_named_as_serde_names_it() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Ping;
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    #[serde(rename = "ok")]
    struct Ok;
    both_ways(Ping, atom("Ping"));
    both_ways(Ok, atom("ok"));
    let err = from_term::<Ok>(&atom("error")).unwrap_err();
    assert_eq!(err.to_string(), "expected atom ok, found atom error");
}

#[test]
fn newtype_struct_is_its_inner_value() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Meters(u32);
    both_ways(Meters(5), Term::Int(5));
}

#[test]
fn seq_is_a_proper_list() {
    both_ways(
        vec![1u32, 2, 3],
        Term::List(vec![Term::Int(1), Term::Int(2), Term::Int(3)]),
    );
    both_ways(Vec::<i32>::new(), Term::nil());
    let improper = Term::ImproperList(vec![Term::Int(1)], Box::new(Term::Int(2)));
    assert!(from_term::<Vec<i32>>(&improper).is_err());
}

#[test]
fn seq_of_bytes_deserializes_from_a_binary() {
    assert_eq!(
        from_term::<Vec<u8>>(&Term::binary(vec![1, 2])).unwrap(),
        vec![1, 2]
    );
}

#[test]
fn tuple_and_tuple_struct_are_tuples_of_the_same_length() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct P(i32, String);
    both_ways((1u8, true), tuple(vec![Term::Int(1), atom("true")]));
    both_ways(P(-1, "x".into()), tuple(vec![Term::Int(-1), bin("x")]));
    let err = from_term::<(u8, u8)>(&tuple(vec![Term::Int(1)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected tuple of 2 elements, found tuple {1}"
    );
}

#[test]
fn struct_is_a_map_with_atom_keys() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Point {
        x: i32,
        y: i32,
    }
    let map: Map = [(atom("x"), Term::Int(1)), (atom("y"), Term::Int(2))]
        .into_iter()
        .collect();
    both_ways(Point { x: 1, y: 2 }, Term::Map(map));
    let binary_keys: Map = [(bin("x"), Term::Int(1)), (bin("y"), Term::Int(2))]
        .into_iter()
        .collect();
    assert_eq!(
        from_term::<Point>(&Term::Map(binary_keys)).unwrap(),
        Point { x: 1, y: 2 }
    );
    let missing: Map = [(atom("x"), Term::Int(1))].into_iter().collect();
    let err = from_term::<Point>(&Term::Map(missing)).unwrap_err();
    assert_eq!(err.to_string(), "missing field `y`");
    let err = from_term::<Point>(&atom("point")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected map (struct Point), found atom point"
    );
}

#[test]
fn hashmap_and_btreemap_are_maps_with_any_key_type() {
    let mut h = HashMap::new();
    h.insert((1u8, String::from("a")), vec![true]);
    let map: Map = [(
        tuple(vec![Term::Int(1), bin("a")]),
        Term::List(vec![atom("true")]),
    )]
    .into_iter()
    .collect();
    both_ways(h, Term::Map(map));
    let mut b = BTreeMap::new();
    b.insert(String::from("k"), 1i64);
    b.insert(String::from("l"), 2i64);
    let map: Map = [(bin("k"), Term::Int(1)), (bin("l"), Term::Int(2))]
        .into_iter()
        .collect();
    both_ways(b, Term::Map(map));
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
#[serde(rename_all = "snake_case")]
enum Request {
    Value,
    Bump(i64),
    Move(i32, i32),
    Set { key: String, value: u8 },
}

#[test]
fn unit_variant_is_an_atom() {
    both_ways(Request::Value, atom("value"));
}

#[test]
fn unit_variant_uses_the_serde_name_as_is() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum Plain {
        Value,
    }
    both_ways(Plain::Value, atom("Value"));
    assert!(from_term::<Plain>(&atom("value")).is_err());
}

#[test]
fn newtype_variant_is_a_two_tuple() {
    both_ways(Request::Bump(5), tuple(vec![atom("bump"), Term::Int(5)]));
}

#[test]
fn tuple_variant_is_a_tagged_tuple() {
    both_ways(
        Request::Move(1, -2),
        tuple(vec![atom("move"), Term::Int(1), Term::Int(-2)]),
    );
}

#[test]
fn struct_variant_is_a_tag_and_a_map() {
    let map: Map = [(atom("key"), bin("k")), (atom("value"), Term::Int(9))]
        .into_iter()
        .collect();
    both_ways(
        Request::Set {
            key: "k".into(),
            value: 9,
        },
        tuple(vec![atom("set"), Term::Map(map)]),
    );
}

#[test]
fn enum_shape_mismatches_name_both_sides() {
    let e = |t: Term| from_term::<Request>(&t).unwrap_err().to_string();
    assert_eq!(e(atom("bump")), "expected tuple {bump, _}, found atom bump");
    assert_eq!(
        e(tuple(vec![atom("value"), Term::Int(1)])),
        "expected atom value, found tuple {value,1}"
    );
    assert_eq!(
        e(tuple(vec![atom("move"), Term::Int(1)])),
        "expected tuple {move, _, _}, found tuple {move,1}"
    );
    assert_eq!(
        e(atom("set")),
        "expected tuple {set, #{key => _, value => _}}, found atom set"
    );
    assert!(e(atom("reset")).contains("unknown variant `reset`"));
    assert_eq!(
        e(Term::Int(3)),
        "expected atom or tagged tuple (enum Request), found integer 3"
    );
}

#[test]
fn term_field_passes_through_untouched() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct From {
        pid: Pid,
        tag: Term,
    }
    let reference = Term::Reference(Reference {
        node: Atom::new("a@host"),
        creation: 3,
        ids: vec![1, 2, 3],
    });
    let tag = Term::ImproperList(
        vec![Term::atom("alias"), reference.clone()],
        Box::new(Term::Int(1)),
    );
    let from = From {
        pid: pid(),
        tag: tag.clone(),
    };
    let map: Map = [(atom("pid"), Term::Pid(pid())), (atom("tag"), tag)]
        .into_iter()
        .collect();
    both_ways(from, Term::Map(map));
    assert_eq!(
        from_term::<Reference>(&reference).unwrap().ids,
        vec![1, 2, 3]
    );
}

#[test]
fn gen_call_decodes_into_typed_request() {
    #[derive(Deserialize, Debug)]
    struct GenCall(Atom, (Pid, Term), Request);
    let tag = Term::Reference(Reference {
        node: Atom::new("a@host"),
        creation: 3,
        ids: vec![4, 5, 6],
    });
    let msg = tuple(vec![
        atom("$gen_call"),
        tuple(vec![Term::Pid(pid()), tag.clone()]),
        tuple(vec![atom("bump"), Term::Int(5)]),
    ]);
    let GenCall(label, (from, got_tag), req) = from_term(&msg).unwrap();
    assert_eq!(label, Atom::new("$gen_call"));
    assert_eq!(from, pid());
    assert_eq!(got_tag, tag);
    assert_eq!(req, Request::Bump(5));
    // And back: a reply `{Tag, Reply}`.
    assert_eq!(
        to_term(&(&got_tag, 5u8)).unwrap(),
        tuple(vec![tag, Term::Int(5)])
    );
}

#[test]
fn every_term_kind_round_trips_as_a_raw_term() {
    use etf::{BitString, Fun, Port};
    let map: Map = [(Term::Int(1), Term::Float(2.5)), (bin("k"), Term::nil())]
        .into_iter()
        .collect();
    let all = vec![
        atom("ok"),
        atom("héllo wörld"),
        Term::Int(-3),
        Term::BigInt(num_bigint::BigInt::from(u64::MAX) * 3),
        Term::Float(-0.0),
        Term::binary(vec![0, 255]),
        Term::from(BitString {
            bytes: vec![1, 0b1010_0000].into(),
            last_bits: 3,
        }),
        Term::nil(),
        Term::List(vec![Term::Int(1), atom("a")]),
        Term::ImproperList(vec![Term::Int(1)], Box::new(Term::Int(2))),
        tuple(vec![]),
        tuple(vec![atom("x"), tuple(vec![Term::Int(1)])]),
        Term::Map(map),
        Term::Pid(pid()),
        Term::Port(Port {
            node: Atom::new("a@host"),
            id: 1 << 40,
            creation: 2,
        }),
        Term::Reference(Reference {
            node: Atom::new("a@host"),
            creation: 1,
            ids: vec![1, 2, 3, 4, 5],
        }),
        Term::Fun(Fun {
            bytes: vec![113, 100, 0, 1, b'm'].into(),
        }),
    ];
    for t in &all {
        assert_eq!(&to_term(t).unwrap(), t);
        assert_eq!(&from_term::<Term>(t).unwrap(), t);
    }
    let list = Term::List(all.clone());
    assert_eq!(to_term(&all).unwrap(), list);
    assert_eq!(from_term::<Vec<Term>>(&list).unwrap(), all);
}

#[test]
fn pid_field_rejects_other_terms() {
    let err = from_term::<Pid>(&atom("self")).unwrap_err();
    assert_eq!(err.to_string(), "expected pid, found atom self");
}

#[test]
fn deserialize_any_sees_plain_values() {
    #[derive(Deserialize, PartialEq, Debug)]
    #[serde(untagged)]
    enum Loose {
        Flag(bool),
        Num(i64),
        Text(String),
        List(Vec<Loose>),
    }
    let t = Term::List(vec![atom("true"), Term::Int(3), bin("s"), atom("name")]);
    assert_eq!(
        from_term::<Loose>(&t).unwrap(),
        Loose::List(vec![
            Loose::Flag(true),
            Loose::Num(3),
            Loose::Text("s".into()),
            Loose::Text("name".into()),
        ])
    );
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;

    fn round_trips<T>(v: T) -> Result<(), TestCaseError>
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let t = to_term(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: T = from_term(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, v);
        Ok(())
    }

    proptest! {
        #[test]
        fn integers(a: i64, b: u64, c: i128, d: u128, e: i8, f: u16) {
            round_trips((a, b, c, d, e, f))?;
        }

        #[test]
        fn floats(x in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL) {
            round_trips(x)?;
        }

        #[test]
        fn strings_and_chars(s: String, c: char) {
            round_trips((s.clone(), c))?;
            round_trips(Charlist(s))?;
        }

        #[test]
        fn collections(v: Vec<Option<i32>>, m: BTreeMap<String, (bool, u8)>) {
            round_trips((v, m))?;
        }

        #[test]
        fn requests(n: i64, a: i32, b: i32, key: String, value: u8) {
            round_trips(Request::Bump(n))?;
            round_trips(Request::Move(a, b))?;
            round_trips(Request::Set { key, value })?;
        }
    }
}

/// Outside the ETF formats a term keeps its lossless tagged form, so it
/// survives a trip through another serde format (JSON here).
#[test]
fn raw_term_round_trips_through_another_serde_format() {
    let t = tuple(vec![
        atom("ok"),
        Term::Pid(pid()),
        Term::from_bigint(num_bigint::BigInt::from(u128::MAX)),
        Term::ImproperList(vec![Term::Float(1.5)], Box::new(bin("tail"))),
        Term::Map([(Term::Int(1), Term::nil())].into_iter().collect()),
    ]);
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains(r#"{"Pid":["a@host",42,1,7]}"#), "{json}");
    assert_eq!(serde_json::from_str::<Term>(&json).unwrap(), t);
    let p: Pid = serde_json::from_str(r#"{"Pid":["a@host",42,1,7]}"#).unwrap();
    assert_eq!(p, pid());
}

/// The ETF formats hand raw terms over in a thread-local slot for one call
/// only: a JSON term read or written right after (or inside) one is unaffected.
#[test]
fn raw_term_handoff_does_not_leak_into_other_formats() {
    struct FromJson(Term);
    impl<'de> Deserialize<'de> for FromJson {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FromJson, D::Error> {
            let text = String::deserialize(d)?;
            serde_json::from_str(&text)
                .map(FromJson)
                .map_err(serde::de::Error::custom)
        }
    }
    let p = Term::Pid(pid());
    let json = serde_json::to_string(&p).unwrap();
    let pair = tuple(vec![p.clone(), bin(&json)]);
    let (first, FromJson(second)) = from_term::<(Term, FromJson)>(&pair).unwrap();
    assert_eq!(first, p);
    assert_eq!(second, p);
    let bytes = etf::to_vec(&pair).unwrap();
    let (first, FromJson(second)) = etf::from_slice::<(Term, FromJson)>(&bytes).unwrap();
    assert_eq!((first, second), (p.clone(), p.clone()));
    assert_eq!(to_term(&p).unwrap(), p);
    assert_eq!(serde_json::to_string(&p).unwrap(), json);
}
