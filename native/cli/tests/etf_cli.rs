//! `ferrotp etf decode|encode`, run as the built binary.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrotp");

/// A child process killed (and reaped) if the test ends before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program args` with `stdin`, failing the test after two minutes.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut child = KillOnDrop(child);
    let mut input = child.0.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.0.stdout.take().expect("piped stdout");
    let mut err = child.0.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{program} {args:?} took over 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn ferrotp(args: &[&str], stdin: &[u8]) -> Output {
    run(BIN, args, stdin)
}

fn ok_stdout(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "exit {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn encode(text: &str, opts: &[&str]) -> Vec<u8> {
    let mut args = vec!["etf", "encode"];
    args.extend_from_slice(opts);
    ok_stdout(ferrotp(&args, text.as_bytes()))
}

fn decode(bytes: &[u8]) -> String {
    String::from_utf8(ok_stdout(ferrotp(&["etf", "decode"], bytes))).expect("UTF-8 output")
}

/// The one stderr line of a failed run.
fn error_line(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure, got {}",
        out.status
    );
    let err = String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr");
    assert_eq!(
        err.lines().count(),
        1,
        "exactly one stderr line, got {err:?}"
    );
    assert!(err.ends_with('\n'));
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err.trim_end().to_owned()
}

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("ferrotp-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SAMPLES: &[&str] = &[
    "ok",
    "{ok,5}",
    r#"{ok,"héllo",<<"λ"/utf8>>,<<1,2:3>>,[1|2],-0.0,1.0e-10}"#,
    r#"#{a => 1,"k" => {}}"#,
    "[]",
    "<<>>",
    "'EXIT'",
    "-12345678901234567890123456789",
    r#"["ab",<<"ÈÉ">>,'a b',3.14]"#,
];

#[test]
fn decode_prints_what_encode_read() {
    for text in SAMPLES {
        assert_eq!(decode(&encode(text, &[])), format!("{text}\n"));
    }
}

#[test]
fn decode_prints_erlang_term_to_binary_output() {
    // term_to_binary({ok, 5}) and term_to_binary(<<"abc">>) on OTP 25.
    assert_eq!(
        decode(&[131, 104, 2, 100, 0, 2, 111, 107, 97, 5]),
        "{ok,5}\n"
    );
    assert_eq!(decode(&[131, 109, 0, 0, 0, 3, 97, 98, 99]), "<<\"abc\">>\n");
}

#[test]
fn encode_accepts_pretty_printed_text_with_trailing_dot() {
    let bytes = encode("{ok,\n   [1,\n    2]}.\n", &[]);
    assert_eq!(decode(&bytes), "{ok,[1,2]}\n");
}

#[test]
fn files_are_read_when_given() {
    let dir = TempDir::new("cli-files");
    let text = dir.file("t.txt", b"{file, 1}.");
    let bytes = ok_stdout(ferrotp(
        &["etf", "encode", text.to_str().expect("path")],
        b"",
    ));
    let bin = dir.file("t.bin", &bytes);
    let out = ok_stdout(ferrotp(
        &["etf", "decode", bin.to_str().expect("path")],
        b"",
    ));
    assert_eq!(out, b"{file,1}\n");
}

#[test]
fn compressed_output_is_zlib_tagged_and_decodes() {
    let text = format!("{{{}}}", vec!["aaaaaaaaaa"; 100].join(","));
    let plain = encode(&text, &[]);
    for opts in [
        &["--compressed"][..],
        &["--compressed=9"][..],
        &["--compressed=1"][..],
    ] {
        let packed = encode(&text, opts);
        assert_eq!(&packed[..2], &[131, 80], "{opts:?}: COMPRESSED tag");
        assert!(packed.len() < plain.len(), "{opts:?} did not shrink");
        assert_eq!(decode(&packed), format!("{text}\n"));
    }
}

#[test]
fn minor_version_zero_writes_floats_as_text() {
    assert_eq!(encode("1.5", &[])[1], 70, "NEW_FLOAT_EXT by default");
    let old = encode("1.5", &["--minor-version", "0"]);
    assert_eq!(old[1], 99, "FLOAT_EXT");
    assert_eq!(decode(&old), "1.5\n");
}

#[test]
fn deterministic_writes_maps_in_key_order() {
    let text = "#{".to_owned()
        + &(0..40)
            .rev()
            .map(|i| format!("k{i} => {i}"))
            .collect::<Vec<_>>()
            .join(",")
        + "}";
    let a = encode(&text, &["--deterministic"]);
    let shuffled = "#{".to_owned()
        + &(0..40)
            .map(|i| format!("k{i} => {i}"))
            .collect::<Vec<_>>()
            .join(",")
        + "}";
    let b = encode(&shuffled, &["--deterministic"]);
    assert_eq!(a, b, "same map, same bytes");
}

#[test]
fn truncated_bytes_fail_with_one_line_naming_the_offset() {
    let out = ferrotp(&["etf", "decode"], &[131, 104, 2, 100, 0, 2, 111]);
    let line = error_line(&out);
    assert!(line.starts_with("ferrotp: etf decode: at byte "), "{line}");
    assert!(out.stdout.is_empty());
}

#[test]
fn empty_and_garbage_input_fail_cleanly() {
    for input in [&b""[..], b"\x00\x01", b"hello", &[131, 255]] {
        let line = error_line(&ferrotp(&["etf", "decode"], input));
        assert!(line.starts_with("ferrotp: etf decode: at byte "), "{line}");
    }
}

#[test]
fn bad_text_fails_with_one_line_naming_line_and_column() {
    let line = error_line(&ferrotp(&["etf", "encode"], b"{ok,\n  }"));
    assert_eq!(
        line,
        "ferrotp: etf encode: at line 2, column 3 (byte 7): unexpected '}', expected a term"
    );
    let line = error_line(&ferrotp(&["etf", "encode"], b"{ok, \xff}"));
    assert_eq!(line, "ferrotp: etf encode: at byte 5: input is not UTF-8");
    let deep = "[".repeat(1_000_000);
    let line = error_line(&ferrotp(&["etf", "encode"], deep.as_bytes()));
    assert!(line.contains("nested deeper than"), "{line}");
}

#[test]
fn missing_file_fails_with_one_line() {
    let line = error_line(&ferrotp(
        &["etf", "decode", "/nonexistent/ferrotp.bin"],
        b"",
    ));
    assert!(
        line.starts_with("ferrotp: etf decode: cannot read /nonexistent/ferrotp.bin"),
        "{line}"
    );
}

#[test]
fn bad_options_are_refused() {
    let out = ferrotp(&["etf", "encode", "--compressed=10"], b"ok");
    assert!(!out.status.success());
    let out = ferrotp(&["etf", "encode", "--minor-version", "3"], b"ok");
    assert!(!out.status.success());
}

/// Runs `erl` to evaluate `expr` (which must print `true` when it holds).
fn erl_says_true(dir: &Path, expr: &str) -> bool {
    let out = run(
        "erl",
        &[
            "-noshell",
            "-pa",
            dir.to_str().expect("path"),
            "-eval",
            expr,
            "-s",
            "init",
            "stop",
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "erl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim() == "true"
}

#[test]
fn erl_reads_encoded_bytes_and_we_read_erl_bytes() {
    let dir = TempDir::new("cli-erl");
    let text = r#"{ok,"héllo",<<"λ"/utf8>>,<<1,2:3>>,[1|2],-0.0,1.0e-10,#{a => [x]},'EXIT',123456789012345678901234567890}"#;
    let ours = dir.file("ours.bin", &encode(text, &["--compressed=6"]));
    let txt = dir.file("t.txt", text.as_bytes());
    let theirs = dir.0.join("theirs.bin");
    let expr = format!(
        "{{ok, B}} = file:read_file(\"{ours}\"), {{ok, S}} = file:read_file(\"{txt}\"), \
         {{ok, Ts, _}} = erl_scan:string(unicode:characters_to_list(S) ++ \".\"), \
         {{ok, T}} = erl_parse:parse_term(Ts), \
         ok = file:write_file(\"{theirs}\", term_to_binary(T)), \
         io:format(\"~w~n\", [binary_to_term(B) =:= T]).",
        ours = ours.display(),
        txt = txt.display(),
        theirs = theirs.display(),
    );
    assert!(
        erl_says_true(&dir.0, &expr),
        "erl read our bytes as a different term"
    );
    let from_erl = std::fs::read(&theirs).expect("erl wrote its bytes");
    assert_eq!(decode(&from_erl), format!("{text}\n"));
}
