//! An independent second peer: a C node built on OTP's own `ei`
//! (`c_src/ferrotp_cnode.c`) calls the Rust counter.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// erl_interface's directory, if its headers and library are installed.
fn erl_interface() -> Option<PathBuf> {
    let out = Command::new("erl")
        .args([
            "-noshell",
            "-eval",
            "io:format(\"~s\", [code:lib_dir(erl_interface)]), halt().",
        ])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?);
    (dir.join("include/ei.h").exists() && dir.join("lib/libei.a").exists()).then_some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ei_c_node_calls_the_rust_counter() {
    if !have_erl() {
        return;
    }
    let Some(ei) = erl_interface() else {
        eprintln!("skipping: erl_interface (ei.h, libei.a) is not installed (erlang-dev)");
        return;
    };
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../c_src/ferrotp_cnode.c");
    let exe = std::env::temp_dir().join(unique("ferrotp_cnode"));
    let built = Command::new("cc")
        .arg(format!("-I{}", ei.join("include").display()))
        .arg(&src)
        .arg(format!("-L{}", ei.join("lib").display()))
        .args(["-lei", "-lpthread", "-o"])
        .arg(&exe)
        .status();
    match built {
        Ok(s) if s.success() => {}
        other => {
            eprintln!("skipping: cannot compile the C node with cc: {other:?}");
            return;
        }
    }
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "cn").await;
    let run = |bump: Option<&str>| {
        let mut cmd = Command::new(&exe);
        cmd.args([rust.name(), "cn"])
            .env("ERL_EPMD_PORT", epmd.port.to_string());
        if let Some(b) = bump {
            cmd.arg(b);
        }
        cmd.output().expect("the C node runs")
    };
    let first = tokio::task::block_in_place(|| run(None));
    let second = tokio::task::block_in_place(|| run(Some("7")));
    let _ = std::fs::remove_file(&exe);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&first.stdout), "reply: 0\n");
    assert_eq!(String::from_utf8_lossy(&second.stdout), "reply: 7\n");
}
