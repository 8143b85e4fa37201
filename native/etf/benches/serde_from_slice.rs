//! from_slice (straight from bytes) against the tree path (etf::decode, then
//! from_term), and to_vec against to_term + etf::encode. Prints ns per operation
//! and the ratios; run with `cargo bench -p ferrotp-etf --bench serde_from_slice`.
//! With `erl` on PATH it also times the BEAM's `binary_to_term` and
//! `term_to_binary` of the same bytes (a compiled module, same doubling
//! loop) and prints from_slice's and to_vec's ratios against them.
//!
//! Runs on the system allocator (mimalloc, which the codec bench uses,
//! returns and re-faults the pages of these short-lived vectors here).

use std::hint::black_box;
use std::process::Command;
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

const ERL_TIMER: &str = r#"
-module(serde_bench_beam).
-export([main/1]).

%% main([Hex]): ns per binary_to_term and per term_to_binary of the term.
main([Hex]) ->
    B = binary:decode_hex(list_to_binary(Hex)),
    T = binary_to_term(B),
    Dec = time(fun() -> binary_to_term(B) end, 1),
    Enc = time(fun() -> term_to_binary(T) end, 1),
    io:format("~f ~f~n", [Dec, Enc]),
    halt().

time(F, N) ->
    T0 = erlang:monotonic_time(nanosecond),
    loop(F, N),
    Ns = erlang:monotonic_time(nanosecond) - T0,
    case Ns >= 300000000 of
        true -> Ns / N;
        false -> time(F, N * 2)
    end.

loop(_F, 0) -> ok;
loop(F, N) -> F(), loop(F, N - 1).
"#;

/// The BEAM's `binary_to_term` and `term_to_binary` of `bytes`, ns per
/// operation; `None` without `erl`.
fn beam_ns(bytes: &[u8]) -> Option<(f64, f64)> {
    let dir = std::env::temp_dir().join(format!("ferrotp-serde-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let src = dir.join("serde_bench_beam.erl");
    std::fs::write(&src, ERL_TIMER).ok()?;
    let compiled = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(&src)
        .status()
        .ok()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let out = compiled
        .success()
        .then(|| {
            Command::new("erl")
                .args(["-noshell", "-pa"])
                .arg(&dir)
                .args(["-run", "serde_bench_beam", "main", &hex])
                .output()
                .ok()
        })
        .flatten();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8(out?.stdout).ok()?;
    let mut ns = text.split_whitespace().map(str::parse::<f64>);
    Some((ns.next()?.ok()?, ns.next()?.ok()?))
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
    let (beam_dec, beam_enc) = beam_ns(&bytes).unwrap_or((f64::NAN, f64::NAN));
    println!(
        "{name:<24} {:>6} bytes  from_slice {direct:>8.0} ns  via Term {tree:>8.0} ns ({:.2}x)  BEAM {beam_dec:>8.0} ns ({:.2}x)  |  to_vec {enc_direct:>8.0} ns  via Term {enc_tree:>8.0} ns ({:.2}x)  BEAM {beam_enc:>8.0} ns ({:.2}x)",
        bytes.len(),
        tree / direct,
        beam_dec / direct,
        enc_tree / enc_direct,
        beam_enc / enc_direct,
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
    // The same strings borrowed from the input (no allocation per string).
    let bytes = to_vec(&text).expect("to_vec");
    let borrowed = time(|| {
        black_box(from_slice::<Vec<&str>>(black_box(&bytes)).expect("from_slice"));
    });
    let (beam_dec, _) = beam_ns(&bytes).unwrap_or((f64::NAN, f64::NAN));
    println!(
        "{:<24} {:>6} bytes  from_slice {borrowed:>8.0} ns  BEAM {beam_dec:>8.0} ns ({:.2}x)",
        "1000 strings as &str",
        bytes.len(),
        beam_dec / borrowed
    );
}
