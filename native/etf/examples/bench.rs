//! ETF codec throughput against the BEAM, measured in the same run.
//!
//! ```text
//! cargo run --release -p ferrotp-etf --example bench [-- SECONDS_PER_CASE]
//! cargo run --release -p ferrotp-etf --example bench --features bench-eetf
//! cargo run --release -p ferrotp-etf --example bench -- 1 maps   # one corpus
//! ```
//!
//! `FERROTP_BENCH_NO_BEAM=1` skips `erl` (for profiling the Rust side alone).
//! `FERROTP_BENCH_COUNT=dec|tape|enc|iovec|eetf|none` (`tape` into one reused tape) instead runs just that operation
//! `FERROTP_BENCH_ROUNDS` (50) times over each corpus, for `perf stat -e instructions` comparisons that
//! other load on the machine cannot disturb.
//!
//! The example runs on mimalloc, as the `ferrotp` CLI binary does: a
//! decoded term is one allocation per list, tuple, map and bignum, and the
//! BEAM's side allocates on its process heap (a pointer bump, with dead
//! terms freed by its copying GC at no cost), so the system allocator would
//! mostly measure glibc. The library itself never sets a global allocator.
//!
//! What each side times: ferrotp's `dec` is decode *and* drop of the term
//! (every iteration's result is dropped inside the timed loop); the BEAM's
//! `binary_to_term` loop includes the garbage collections its garbage
//! triggers (minor GCs that find the decoded terms dead).
//!
//! Builds five corpora (small mixed terms, 50-key maps, deep lists, large
//! binaries, bignums), measures ferrotp's decode and encode in MB/s of
//! encoded bytes, runs `erl` on the very same bytes for `binary_to_term` and
//! `term_to_binary`, optionally the `eetf` crate's decode, and prints a table
//! with ratios (ferrotp / other; above 1 is faster). `dec` is `etf::decode`
//! (binaries copied), `dec Bytes` is `etf::decode_bytes` (binaries shared);
//! the decode ratio uses the faster of the two. Each corpus is measured on
//! both sides back to back, best of 20 slices, to damp other load.
//!
//! The `tape` columns decode the same bytes with `etf::tape` (a flat node
//! buffer read in place, not a `Term` tree): `tape` decodes every item into
//! one reused `Tape` (clearing it is part of each decode), `tape new` into
//! a new `Tape` per item, dropped inside the timed loop. `t/beam` and
//! `t/eetf` are `tape`'s ratios against `binary_to_term` and eetf.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use etf::{decode, encode, Atom, Map, Pid, Term};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Corpus {
    name: &'static str,
    items: Vec<Vec<u8>>,
}

impl Corpus {
    fn bytes(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }
}

fn corpus(name: &'static str, terms: impl IntoIterator<Item = Term>) -> Corpus {
    Corpus {
        name,
        items: terms.into_iter().map(|t| encode(&t)).collect(),
    }
}

fn corpora() -> Vec<Corpus> {
    let pid = Term::Pid(Pid {
        node: Atom::new("rust@localhost"),
        id: 42,
        serial: 0,
        creation: 1,
    });
    let small = (0..2000i64).map(|i| {
        Term::tuple(vec![
            Term::atom(["call", "cast", "info"][i as usize % 3]),
            pid.clone(),
            Term::Int(i * 7919 - 5000),
            Term::binary(format!("user-{i}").into_bytes()),
            Term::List(vec![
                Term::atom("admin"),
                Term::atom("dev"),
                Term::Int(i % 300),
            ]),
            Term::Float(i as f64 * 1.25),
            Term::Map(
                [
                    (Term::atom("id"), Term::Int(i)),
                    (Term::atom("name"), Term::binary(&b"alice"[..])),
                ]
                .into_iter()
                .collect(),
            ),
        ])
    });
    let maps = (0..200i64).map(|i| {
        Term::Map(
            (0..50i64)
                .map(|k| {
                    let v = match k % 4 {
                        0 => Term::Int(i * k),
                        1 => Term::binary(format!("value-{k}").into_bytes()),
                        2 => Term::Float(k as f64 / 3.0),
                        _ => Term::atom("flag"),
                    };
                    (Term::atom(&format!("key_{k}")), v)
                })
                .collect::<Map>(),
        )
    });
    let deep = (0..20i64).map(|i| {
        let mut t = Term::nil();
        for d in 0..1000 {
            t = Term::List(vec![Term::Int(i + d), t]);
        }
        t
    });
    let binaries = (0..8u8).map(|i| {
        Term::tuple(
            (0..4)
                .map(|j| Term::binary(vec![i.wrapping_mul(j); 256 * 1024]))
                .collect(),
        )
    });
    let bignums = (0..200u32).map(|i| {
        Term::List(
            (0..50u32)
                .map(|j| {
                    let n: num_bigint::BigInt =
                        (num_bigint::BigInt::from(i * 50 + j + 1) << 256u32) + 12345;
                    Term::from_bigint(if j % 2 == 0 { -n } else { n })
                })
                .collect(),
        )
    });
    let tree = (0..50i64).map(|i| {
        Term::List(
            (0..8)
                .map(|j| {
                    Term::List(
                        (0..8)
                            .map(|k| Term::List((0..8).map(|l| Term::Int(i + j + k + l)).collect()))
                            .collect(),
                    )
                })
                .collect(),
        )
    });
    let long = (0..20i64).map(|i| {
        Term::List(
            (0..5000i64)
                .map(|j| Term::Int((i * j * 7919) % 100_000))
                .collect(),
        )
    });
    vec![
        corpus("small mixed terms", small),
        corpus("50-key maps", maps),
        corpus("deep lists (1000)", deep),
        corpus("nested lists 8^3", tree),
        corpus("long int lists 5000", long),
        corpus("large binaries", binaries),
        corpus("bignums", bignums),
    ]
}

/// MB/s of `bytes` per call of `f`, run for about `budget`: the best of
/// 20 slices, so that other load on the machine does not count.
fn throughput(bytes: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let slice = budget / 20;
    let mut best = 0.0f64;
    for _ in 0..20 {
        let start = Instant::now();
        let mut rounds = 0u64;
        while start.elapsed() < slice || rounds == 0 {
            f();
            rounds += 1;
        }
        best = best.max((bytes as f64 * rounds as f64) / start.elapsed().as_secs_f64() / 1e6);
    }
    best
}

const ERL_BENCH: &str = r#"
-module(etf_bench).
-export([main/1]).

%% Reads a corpus number per line from stdin, answers "N Dec Enc Iov" (MB/s),
%% so the Rust side can measure each corpus right beside the BEAM.
main([Dir, Ms]) ->
    Budget = list_to_integer(Ms) * 1000,
    serve(Dir, Budget).

serve(Dir, Budget) ->
    case io:get_line("") of
        eof -> halt();
        Line ->
            N = string:trim(Line),
            one(filename:join(Dir, N ++ ".etf"), N, Budget),
            serve(Dir, Budget)
    end.

one(Path, Name, Budget) ->
    {ok, Bin} = file:read_file(Path),
    Items = split(Bin, []),
    Bytes = lists:sum([byte_size(I) || I <- Items]),
    Terms = [binary_to_term(I) || I <- Items],
    Dec = rate(fun() -> lists:foreach(fun(I) -> binary_to_term(I) end, Items) end, Bytes, Budget),
    Enc = rate(fun() -> lists:foreach(fun(T) -> term_to_binary(T) end, Terms) end, Bytes, Budget),
    Iov = rate(fun() -> lists:foreach(fun(T) -> term_to_iovec(T) end, Terms) end, Bytes, Budget),
    io:format("~s ~f ~f ~f~n", [Name, Dec, Enc, Iov]).

split(<<>>, Acc) -> lists:reverse(Acc);
split(<<Len:32, I:Len/binary, Rest/binary>>, Acc) -> split(Rest, [I | Acc]).

%% The best of 20 slices, as on the Rust side.
rate(F, Bytes, Budget) ->
    F(),
    lists:max([slice(F, Bytes, Budget div 20) || _ <- lists:seq(1, 20)]).

slice(F, Bytes, Budget) ->
    T0 = erlang:monotonic_time(microsecond),
    N = loop(F, T0, Budget, 0),
    Us = erlang:monotonic_time(microsecond) - T0,
    Bytes * N / Us.

loop(F, T0, Budget, N) ->
    case erlang:monotonic_time(microsecond) - T0 >= Budget andalso N > 0 of
        true -> N;
        false -> F(), loop(F, T0, Budget, N + 1)
    end.
"#;

/// An `erl` running the BEAM side of the benchmark, one corpus at a time.
struct Beam {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    dir: PathBuf,
}

impl Beam {
    /// Compiles the Erlang side and starts it; `None` without `erl`.
    fn start(corpora: &[Corpus], budget: Duration) -> Option<Beam> {
        let dir = std::env::temp_dir().join(format!("ferrotp-etf-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(dir.join("etf_bench.erl"), ERL_BENCH).ok()?;
        let compiled = Command::new("erlc")
            .arg("-o")
            .arg(&dir)
            .arg(dir.join("etf_bench.erl"))
            .status()
            .ok()?
            .success();
        if !compiled {
            return None;
        }
        for (i, c) in corpora.iter().enumerate() {
            let mut framed = Vec::new();
            for item in &c.items {
                framed.extend_from_slice(&(item.len() as u32).to_be_bytes());
                framed.extend_from_slice(item);
            }
            std::fs::write(dir.join(format!("{i}.etf")), framed).ok()?;
        }
        let mut child = Command::new("erl")
            .arg("-noshell")
            .arg("-pa")
            .arg(&dir)
            .args(["-run", "etf_bench", "main"])
            .arg(&dir)
            .arg(budget.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = BufReader::new(child.stdout.take()?);
        Some(Beam {
            child,
            stdin,
            stdout,
            dir,
        })
    }

    /// `(binary_to_term, term_to_binary, term_to_iovec)` in MB/s on corpus `i`.
    fn measure(&mut self, i: usize) -> Option<(f64, f64, f64)> {
        writeln!(self.stdin, "{i}").ok()?;
        self.stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let mut f = line.split_whitespace().skip(1);
        Some((
            f.next()?.parse().ok()?,
            f.next()?.parse().ok()?,
            f.next()?.parse().ok()?,
        ))
    }
}

impl Drop for Beam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(feature = "bench-eetf")]
fn eetf_decode(c: &Corpus, budget: Duration) -> Option<f64> {
    Some(throughput(c.bytes(), budget, || {
        for item in &c.items {
            let _ = black_box(eetf::Term::decode(&item[..]));
        }
    }))
}

#[cfg(feature = "bench-eetf")]
fn eetf_decode_one(item: &[u8]) -> bool {
    eetf::Term::decode(item).is_ok()
}

#[cfg(not(feature = "bench-eetf"))]
fn eetf_decode_one(_: &[u8]) -> bool {
    false
}

#[cfg(not(feature = "bench-eetf"))]
fn eetf_decode(_: &Corpus, _: Duration) -> Option<f64> {
    None
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let corpora: Vec<Corpus> = corpora()
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    if let Ok(op) = std::env::var("FERROTP_BENCH_COUNT") {
        let rounds: usize = std::env::var("FERROTP_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(50);
        for c in &corpora {
            let terms: Vec<Term> = c.items.iter().filter_map(|b| decode(b).ok()).collect();
            let mut reused = etf::tape::Tape::new();
            for _ in 0..rounds {
                for (item, t) in c.items.iter().zip(&terms) {
                    match op.as_str() {
                        "dec" => drop(black_box(decode(black_box(item)))),
                        "tape" => drop(black_box(etf::tape::decode_into(
                            &mut reused,
                            black_box(item),
                        ))),
                        "enc" => drop(black_box(encode(black_box(t)))),
                        "iovec" => drop(black_box(etf::encode_iovec(black_box(t)))),
                        "eetf" => drop(black_box(eetf_decode_one(item))),
                        _ => {}
                    }
                }
            }
        }
        return;
    }
    let mut beam = if std::env::var_os("FERROTP_BENCH_NO_BEAM").is_some() {
        None
    } else {
        Beam::start(&corpora, budget)
    };
    if beam.is_none() {
        println!("(erl not found: BEAM columns left empty)");
    }
    println!(
        "{:<20} {:>9} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>9} {:>6} {:>9} {:>9} {:>6} {:>6}",
        "corpus (MB/s)",
        "bytes",
        "dec",
        "dec Bytes",
        "beam dec",
        "ratio",
        "enc",
        "beam enc",
        "ratio",
        "iovec",
        "beam iov",
        "ratio",
        "eetf dec",
        "ratio",
        "tape",
        "tape new",
        "t/beam",
        "t/eetf"
    );
    for (i, c) in corpora.iter().enumerate() {
        let terms: Vec<Term> = c.items.iter().filter_map(|b| decode(b).ok()).collect();
        let dec = throughput(c.bytes(), budget, || {
            for item in &c.items {
                let _ = black_box(decode(black_box(item)));
            }
        });
        // The same decode with binaries sharing the input (`decode_bytes`),
        // as the distribution layer decodes frames it already holds.
        let shared: Vec<bytes::Bytes> = c
            .items
            .iter()
            .map(|b| bytes::Bytes::from(b.clone()))
            .collect();
        let dec_shared = throughput(c.bytes(), budget, || {
            for item in &shared {
                let _ = black_box(etf::decode_bytes(black_box(item.clone())));
            }
        });
        // The tape decoder: into one reused tape, and into a new one each time.
        // First, that it decodes every item to the same term.
        for (item, t) in c.items.iter().zip(&terms) {
            let tape = etf::tape::decode(item).and_then(|tape| tape.root().to_term());
            assert_eq!(
                tape.as_ref(),
                Ok(t),
                "{}: the tape decodes differently",
                c.name
            );
        }
        let mut reused = etf::tape::Tape::new();
        let tape = throughput(c.bytes(), budget, || {
            for item in &c.items {
                let _ = black_box(etf::tape::decode_into(&mut reused, black_box(item)));
            }
        });
        let tape_new = throughput(c.bytes(), budget, || {
            for item in &c.items {
                let _ = black_box(etf::tape::decode(black_box(item)));
            }
        });
        let enc = throughput(c.bytes(), budget, || {
            for t in &terms {
                black_box(encode(black_box(t)));
            }
        });
        // `term_to_iovec`: large binaries shared, not copied.
        let iovec = throughput(c.bytes(), budget, || {
            for t in &terms {
                black_box(etf::encode_iovec(black_box(t)));
            }
        });
        let (bdec, benc, biov) =
            beam.as_mut()
                .and_then(|b| b.measure(i))
                .unwrap_or((f64::NAN, f64::NAN, f64::NAN));
        let eetf = eetf_decode(c, budget).unwrap_or(f64::NAN);
        println!(
            "{:<20} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>6.2} {:>9.1} {:>9.1} {:>6.2} {:>9.1} {:>9.1} {:>6.2} {:>9.1} {:>6.2} {:>9.1} {:>9.1} {:>6.2} {:>6.2}",
            c.name,
            c.bytes(),
            dec,
            dec_shared,
            bdec,
            dec.max(dec_shared) / bdec,
            enc,
            benc,
            enc / benc,
            iovec,
            biov,
            iovec / biov,
            eetf,
            dec / eetf,
            tape,
            tape_new,
            tape / bdec,
            tape / eetf
        );
    }
}
