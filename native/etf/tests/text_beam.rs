//! Differential test of Erlang term text against a real `erl` (OTP 25+).
//!
//! 1. `erl +pc unicode` prints edge-case and random terms with `~tp`,
//!    `~tw`, `~p` and `~w`, each beside its `term_to_binary`.
//! 2. `etf::parse` must read all four texts to the term `etf::decode`
//!    reads from erl's `term_to_binary`, and our `Display`
//!    must print exactly what `~tp` printed whenever `~tp` used one line.
//! 3. `erl` reads our `Display` output back (`erl_scan` + `erl_parse` and
//!    `erl_eval`) and checks it is `=:=` the term it started from.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etf::Term;

mod beam;
use beam::TempDir;

/// A child process killed (and reaped) if the test ends before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `erl` with `args`, returning its stdout; fails the test after two
/// minutes (killing erl) or on a non-zero exit.
fn run_erl(dir: &Path, args: &[&str]) -> String {
    let child = Command::new("erl")
        .args(["-noshell", "+pc", "unicode", "-pa"])
        .arg(dir)
        .args(args)
        .args(["-s", "init", "stop"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("erl must be installed (OTP 25+)");
    let mut child = KillOnDrop(child);
    let mut stdout = child.0.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for erl") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "erl {args:?} took over 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().expect("stdout reader");
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.success(),
        "erl {args:?} failed: {status}\n{err}\n{out}"
    );
    out
}

fn compile_helper(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/erl/text_beam.erl");
    let status = Command::new("erlc")
        .arg("-o")
        .arg(dir)
        .arg(&src)
        .status()
        .expect("erlc must be installed");
    assert!(status.success(), "erlc {src:?} failed");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex from erl"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn utf8(hex_text: &str) -> String {
    String::from_utf8(unhex(hex_text)).expect("erl printed UTF-8")
}

/// OTP 25 prints `maybe` and `else` unquoted; we quote them as OTP 26 does.
fn as_otp25(ours: &str) -> String {
    ours.replace("'maybe'", "maybe").replace("'else'", "else")
}

#[test]
fn erl_text_reads_back_and_our_text_reads_back_in_erl() {
    let dir = TempDir::new("text-beam");
    compile_helper(&dir.0);
    let generated = run_erl(
        &dir.0,
        &["-run", "text_beam", "generate", "20261124", "1500"],
    );

    let mut failures = Vec::new();
    let mut for_erl = String::new();
    let mut exact = 0;
    let lines: Vec<&str> = generated.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        lines.len() > 3000,
        "erl generated only {} terms",
        lines.len()
    );
    for line in &lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let [bin, tp, tw, p, w] = fields[..] else {
            panic!("malformed line from erl: {line}");
        };
        let tp = utf8(tp);
        let from_tp: Term = match etf::parse(&tp) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("parse(~tp {tp:?}): {e}"));
                continue;
            }
        };
        for (how, text) in [("~tw", utf8(tw)), ("~p", utf8(p)), ("~w", utf8(w))] {
            match etf::parse(&text) {
                Ok(t) if t == from_tp => {}
                Ok(t) => failures.push(format!(
                    "{how} {text:?} read as {t}, ~tp {tp:?} as {from_tp}"
                )),
                Err(e) => failures.push(format!("parse({how} {text:?}): {e}")),
            }
        }
        match etf::decode(&unhex(bin)) {
            Ok(t) if t == from_tp => {}
            Ok(t) => failures.push(format!(
                "~tp {tp:?} read as {from_tp}, erl's bytes decode to {t}"
            )),
            Err(e) => failures.push(format!("decode of erl's bytes for {tp:?}: {e}")),
        }
        let ours = from_tp.to_string();
        if !tp.contains('\n') {
            exact += 1;
            if as_otp25(&ours) != tp {
                failures.push(format!("we print {ours:?}, ~tp printed {tp:?}"));
            }
        }
        for_erl.push_str(&format!("{bin}\t{}\n", hex(ours.as_bytes())));
    }
    assert!(
        exact > 1000,
        "only {exact} single-line ~tp texts to compare"
    );

    let check_file = dir.0.join("ours.txt");
    std::fs::write(&check_file, for_erl).expect("write check file");
    let verdict = run_erl(
        &dir.0,
        &[
            "-run",
            "text_beam",
            "check",
            check_file.to_str().expect("utf-8 temp path"),
        ],
    );
    for line in verdict.lines().filter(|l| *l != "ok") {
        failures.push(format!("erl: {line}"));
    }
    assert!(
        verdict.lines().any(|l| l == "ok") || !failures.is_empty(),
        "erl said {verdict:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} terms failed:\n{}",
        failures.len(),
        lines.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Syntax `io:format` never prints but `erl_parse` reads, which `parse`
/// must read the way `erl_eval` does.
const PARSE_ONLY: &[&str] = &[
    "<<1:3, 16#abc:12, 5:5>>",
    "<<16#123:12/little, 7:4>>",
    "<<-1:7, 300:9/big-unsigned>>",
    "<<1:2/unit:8, 3:1/unit:3>>",
    "<<\"ab\":16, \"c\"/utf16-little, \"λ😀\"/utf8, $x/utf32>>",
    "<<\"é\", \"λ\">>",
    "<<1.5/float, 2.25:32/float-little, 7/float>>",
    "<<1267650600228229401496703205376:128, -1267650600228229401496703205376:101>>",
    "<<12345678901234567890123:80/little>>",
    "{16#FF, -2#1010, 36#zZ, 1_000_000, 1_0.2_5e1_0, 2.0E+3, 1.0e-0}",
    "[$a, $\\n, $\\x{3bb}, $\\101, $\\^A, $\\s, $\\e, -$a, $ ]",
    "\"ab\" \"cd\"\n  \"\\x{1F600}\\x41\\101\\7\\^z\\q\"",
    "'\\x{3bb}\\n\\s\\'q'",
    "[1, 2 | [3 | [4]]]",
    "#{a => 1, a => 2, [] => #{}}",
    "{maybe, else}",
    "9223372036854775807",
    "-9223372036854775809",
    "- 5",
    "+5",
];

#[test]
fn parse_reads_source_syntax_as_erl_eval_does() {
    let dir = TempDir::new("text-same");
    compile_helper(&dir.0);
    let mut lines = String::new();
    for source in PARSE_ONLY {
        let ours = match etf::parse(source) {
            Ok(t) => t.to_string(),
            Err(e) => panic!("parse({source:?}): {e}"),
        };
        lines.push_str(&format!(
            "{}\t{}\n",
            hex(ours.as_bytes()),
            hex(source.as_bytes())
        ));
    }
    let file = dir.0.join("same.txt");
    std::fs::write(&file, lines).expect("write");
    let verdict = run_erl(
        &dir.0,
        &[
            "-run",
            "text_beam",
            "same",
            file.to_str().expect("utf-8 temp path"),
        ],
    );
    assert_eq!(verdict.trim(), "ok", "erl disagrees:\n{verdict}");
}
