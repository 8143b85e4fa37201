//! From Elixir: `Ferrotp.start_link(:counter, n, on: node)`, GenServer
//! calls and an Elixir Supervisor owning a Rust counter.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

fn have_elixir() -> bool {
    let ok = Command::new("elixirc")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: elixir is not installed");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elixir_starts_calls_and_supervises_a_rust_counter() {
    if !have_erl() || !have_elixir() {
        return;
    }
    let beams = compile_erlang();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new("elixirc")
        .arg("-o")
        .arg(&beams)
        .arg(root.join("elixir/ferrotp.ex"))
        .stderr(Stdio::null())
        .status()
        .expect("elixirc runs");
    assert!(built.success(), "elixirc failed");
    let epmd = Epmd::start();
    let rust = Rust::start(&epmd, "ex").await;
    let script = format!(
        r#"
node = :"{node}"
true = Node.connect(node)
{{:ok, c}} = Ferrotp.start_link(:counter, 5, on: node, name: ExCounter)
GenServer.cast(c, {{:bump, 2}})
a = GenServer.call(c, :value)
b = GenServer.call({{ExCounter, node}}, :value)
{{:ok, sup}} = Supervisor.start_link([{{Ferrotp, behaviour: :counter, arg: 1, on: node}}], strategy: :one_for_one)
[{{:counter, p, :worker, _}}] = Supervisor.which_children(sup)
ref = Process.monitor(p)
Process.exit(p, :kill)
receive do {{:DOWN, ^ref, :process, ^p, :killed}} -> :ok end
wait = fn wait -> case Supervisor.which_children(sup) do
  [{{:counter, q, _, _}}] when is_pid(q) and q != p -> q
  _ -> Process.sleep(20); wait.(wait)
end end
q = wait.(wait)
IO.puts("result #{{a}} #{{b}} #{{node(q) == node}} #{{GenServer.call(q, :value)}}")
"#,
        node = rust.name()
    );
    let name = format!("{}@localhost", unique("ex"));
    let out = tokio::task::block_in_place(|| {
        Command::new("elixir")
            .args(["--sname", &name, "--cookie", "ex", "--erl"])
            .arg(format!("-pa {}", beams.display()))
            .args(["-e", &script])
            .env("ERL_EPMD_PORT", epmd.port.to_string())
            .output()
            .expect("elixir runs")
    });
    let _ = std::fs::remove_dir_all(&beams);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "result 7 7 true 1"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
