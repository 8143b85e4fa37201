//! from_slice (straight from bytes) against the tree path (etf::decode, then
//! from_term), and to_vec against to_term + etf::encode. Prints ns per operation
//! and the ratio; run with `cargo bench -p ferrotp-etf --bench serde_from_slice`.

use std::hint::black_box;
use std::time::Instant;

use etf::{from_slice, from_term, to_term, to_vec, Atom, Pid, Reference, Term};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Request {
    Value,
    Bump(i64),
    Set { key: String, value: u8 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct GenCall(Atom, (Pid, Term), Request);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point {
    x: i32,
    y: i32,
    label: String,
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed.as_millis() >= 300 {
            return elapsed.as_nanos() as f64 / iters as f64;
        }
        iters *= 2;
    }
}

fn compare<T>(name: &str, value: &T)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let bytes = to_vec(value).expect("to_vec");
    let direct = time(|| {
        black_box(from_slice::<T>(black_box(&bytes)).expect("from_slice"));
    });
    let tree = time(|| {
        let t = etf::decode(black_box(&bytes)).expect("decode");
        black_box(from_term::<T>(&t).expect("from_term"));
    });
    let enc_direct = time(|| {
        black_box(to_vec(black_box(value)).expect("to_vec"));
    });
    let enc_tree = time(|| {
        let t = to_term(black_box(value)).expect("to_term");
        black_box(etf::encode(&t));
    });
    println!(
        "{name:<24} {:>6} bytes  from_slice {direct:>10.0} ns  via Term {tree:>10.0} ns  ({:.2}x)  |  to_vec {enc_direct:>10.0} ns  via Term {enc_tree:>10.0} ns  ({:.2}x)",
        bytes.len(),
        tree / direct,
        enc_tree / enc_direct,
    );
}

fn main() {
    let node = Atom::new("bench@host");
    let call = GenCall(
        Atom::new("$gen_call"),
        (
            Pid {
                node,
                id: 85,
                serial: 0,
                creation: 1,
            },
            Term::Reference(Reference {
                node,
                creation: 1,
                ids: vec![1, 2, 3],
            }),
        ),
        Request::Set {
            key: "counter".into(),
            value: 9,
        },
    );
    compare("gen_call {set, #{..}}", &call);
    compare("cast {bump, 5}", &Request::Bump(5));
    compare("call value", &Request::Value);
    let points: Vec<Point> = (0..1000)
        .map(|i| Point {
            x: i,
            y: -i,
            label: format!("p{i}"),
        })
        .collect();
    compare("1000 structs", &points);
    let text: Vec<String> = (0..1000)
        .map(|i| format!("line {i} of some text"))
        .collect();
    compare("1000 strings", &text);
}
