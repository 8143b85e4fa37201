//! Term text throughput, against the BEAM in the same run.
//!
//! `cargo bench -p ferrotp-etf --bench text` prints, for one ~1 MB term:
//! our `Display` vs `io_lib:format("~tw")`, and our `etf::parse` vs
//! `erl_scan:string` + `erl_parse:parse_term`.

use std::process::Command;
use std::time::{Duration, Instant};

use etf::{Map, Term};

const ROUNDS: u32 = 10;

fn sample() -> Term {
    let items = (0..20_000i64)
        .map(|n| {
            let name: Vec<Term> = format!("user {n}")
                .chars()
                .map(|c| Term::Int(c as i64))
                .collect();
            let mut map = Map::new();
            map.insert(
                Term::atom("k"),
                Term::List(vec![Term::Int(1), Term::Int(2), Term::Int(n)]),
            );
            Term::Tuple(vec![
                Term::atom("user"),
                Term::Int(n),
                Term::List(name),
                Term::binary(format!("bin-{n}").into_bytes()),
                Term::Float(n as f64 * 1.5 + 0.1),
                Term::Map(map),
            ])
        })
        .collect();
    Term::List(items)
}

fn per_round(f: impl Fn()) -> Duration {
    f(); // warm up
    let started = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    started.elapsed() / ROUNDS
}

/// Times the same work in `erl`; returns (format, parse) per round.
fn beam(text_file: &std::path::Path) -> Option<(Duration, Duration)> {
    let expr = format!(
        "{{ok, B}} = file:read_file(\"{}\"), S = unicode:characters_to_list(B) ++ \".\", \
         {{ok, Ts, _}} = erl_scan:string(S), {{ok, T}} = erl_parse:parse_term(Ts), \
         R = {ROUNDS}, \
         {{F, _}} = timer:tc(fun() -> [unicode:characters_to_binary(io_lib:format(\"~tw\", [T])) \
              || _ <- lists:seq(1, R)] end), \
         {{P, _}} = timer:tc(fun() -> [begin {{ok, Ts2, _}} = erl_scan:string(S), \
              {{ok, _}} = erl_parse:parse_term(Ts2) end || _ <- lists:seq(1, R)] end), \
         io:format(\"~w ~w~n\", [F div R, P div R]), halt().",
        text_file.display()
    );
    let out = Command::new("erl")
        .args(["-noshell", "-eval", &expr])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut nums = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    Some((
        Duration::from_micros(nums.next()?),
        Duration::from_micros(nums.next()?),
    ))
}

fn main() {
    let term = sample();
    let text = term.to_string();
    let print = per_round(|| {
        std::hint::black_box(term.to_string());
    });
    let parse = per_round(|| {
        std::hint::black_box(etf::parse(&text).ok());
    });
    println!("text: {} bytes, {ROUNDS} rounds", text.len());
    println!("ferrotp  print {print:>10.2?}   parse {parse:>10.2?}");
    let file = std::env::temp_dir().join(format!("ferrotp-text-bench-{}.txt", std::process::id()));
    if std::fs::write(&file, &text).is_err() {
        return;
    }
    match beam(&file) {
        Some((f, p)) => {
            println!("BEAM     ~tw   {f:>10.2?}   scan+parse_term {p:>10.2?}");
            println!(
                "ratio (BEAM time / ferrotp time): print {:.1}x, parse {:.1}x",
                f.as_secs_f64() / print.as_secs_f64(),
                p.as_secs_f64() / parse.as_secs_f64()
            );
        }
        None => println!("BEAM: erl not available, no ratio"),
    }
    let _ = std::fs::remove_file(&file);
}
