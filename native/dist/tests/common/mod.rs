//! Test harness: a private `epmd` and `erl` nodes, each killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous: erl boots slowly on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// A unique short name for this test process: `prefix_PID_N`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// `true` when an EPMD answers NAMES_REQ on `port` (not some other test's
/// listener that grabbed the same free port).
fn is_epmd(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(&[0, 1, 110]).is_err() {
        return false;
    }
    let mut head = [0u8; 4];
    s.read_exact(&mut head).is_ok() && u32::from_be_bytes(head) == u32::from(port)
}

/// A private `epmd -port P` in the foreground, so it can be killed by pid.
pub struct Epmd {
    pub port: u16,
    child: Child,
}

impl Epmd {
    pub fn start() -> Epmd {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("epmd")
                .args(["-port", &port.to_string(), "-address", "127.0.0.1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("epmd must be installed");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if is_epmd(port) {
                    return Epmd { port, child };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start epmd");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Epmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `erl -sname NAME@localhost` node running `eval`, its stdout lines collected.
pub struct Erl {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Erl {
    /// Starts `erl` registered with `epmd`; `eval` runs after boot (it should
    /// end by waiting, e.g. `receive stop -> ok end`).
    pub fn start(epmd: &Epmd, short: &str, cookie: &str, extra: &[&str], eval: &str) -> Erl {
        Erl::start_on(epmd.port, short, cookie, extra, eval)
    }

    /// Like [`Erl::start`], with EPMD on `epmd_port` (e.g. an embedded one).
    pub fn start_on(epmd_port: u16, short: &str, cookie: &str, extra: &[&str], eval: &str) -> Erl {
        Erl::spawn(
            epmd_port,
            "-sname",
            &format!("{short}@localhost"),
            cookie,
            extra,
            eval,
        )
    }

    /// An `erl -name ALIVE@127.0.0.1` node (a long name).
    pub fn start_long(epmd: &Epmd, alive: &str, cookie: &str, eval: &str) -> Erl {
        Erl::spawn(
            epmd.port,
            "-name",
            &format!("{alive}@127.0.0.1"),
            cookie,
            &[],
            eval,
        )
    }

    fn spawn(
        epmd_port: u16,
        flag: &str,
        name: &str,
        cookie: &str,
        extra: &[&str],
        eval: &str,
    ) -> Erl {
        let name = name.to_owned();
        let mut child = Command::new("erl")
            .args([flag, &name, "-setcookie", cookie, "-noshell", "-noinput"])
            .args(["-kernel", "inet_dist_use_interface", "{127,0,0,1}"])
            .args(extra)
            .args(["-eval", eval])
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("erl must be installed");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[erl] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Erl {
            name,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line satisfying `pred`, returning it.
    pub fn expect_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "erl {} never printed {what}; printed: {:?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Stops (`SIGSTOP`) or resumes (`SIGCONT`) the node's OS process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} failed");
    }

    /// Waits for the line exactly equal to `want`.
    pub fn expect(&mut self, want: &str) {
        self.expect_line(want, |l| l == want);
    }
}

impl Drop for Erl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs from the crate under test, shown for failing tests.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "dist=debug".into()),
        )
        .with_test_writer()
        .try_init();
}
