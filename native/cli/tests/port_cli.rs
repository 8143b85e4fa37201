//! `ferrotp port`, run as the built binary and spoken to in frames, as the
//! Erlang host does.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use dist::control::ControlMessage;
use etf::{Atom, Pid, Reference, Term};
use port::frame::Frame;
use port::packet::{read_packet, write_packet};

const BIN: &str = env!("CARGO_BIN_EXE_ferrotp");

/// The port program, killed (and reaped) if the test ends first.
struct PortProgram {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl Drop for PortProgram {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PortProgram {
    fn start(args: &[&str]) -> PortProgram {
        let mut child = Command::new(BIN)
            .arg("port")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ferrotp port");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        PortProgram {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, frame: &Frame) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        write_packet(stdin, &frame.encode()).unwrap();
        stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Frame {
        let body = read_packet(&mut self.stdout, 1 << 30)
            .unwrap()
            .expect("a frame");
        Frame::decode(body.into()).unwrap()
    }

    /// Waits (up to a minute) for the program to exit; its status and stderr.
    fn exit(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    e.read_to_string(&mut err).unwrap();
                }
                return (status.code(), err);
            }
            assert!(Instant::now() < deadline, "the port program did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn vm_pid(id: u32) -> Pid {
    Pid {
        node: Atom::new("nonode@nohost"),
        id,
        serial: 0,
        creation: 0,
    }
}

fn vm_ref(n: u32) -> Reference {
    Reference {
        node: Atom::new("nonode@nohost"),
        creation: 0,
        ids: vec![n, 0, 0],
    }
}

fn spawn_counter(p: &mut PortProgram, host: Pid, req: u32, arg: Term) -> Term {
    p.send(&Frame::new(
        ControlMessage::SpawnRequest {
            req_id: vm_ref(req),
            from: host,
            group_leader: host,
            module: Atom::new("counter"),
            function: Atom::new("start_link"),
            arity: 1,
            opts: Term::List(vec![
                Term::atom("monitor"),
                Term::tuple(vec![Term::atom("parent"), Term::Pid(host)]),
            ]),
        },
        Some(Term::List(vec![arg])),
    ));
    // A process that is spawned first tells the host its pid
    // (`{'$ferrotp_port', starting, ReqId}`, before its init runs); then
    // the reply comes.
    let mut frame = p.receive();
    if let (ControlMessage::SendSender { to, .. }, Some(Term::Tuple(items))) =
        (&frame.control, &frame.payload)
    {
        if *to == host && items.get(1).is_some_and(|t| t.is_atom("starting")) {
            frame = p.receive();
        }
    }
    match frame.control {
        ControlMessage::SpawnReply { req_id, result, .. } => {
            assert_eq!(req_id, vm_ref(req));
            result
        }
        other => panic!("expected SPAWN_REPLY, got {other:?}"),
    }
}

#[test]
fn echo_mode_returns_every_packet() {
    let mut p = PortProgram::start(&["--echo"]);
    for body in [&b"one"[..], b"", &[7u8; 100_000]] {
        let stdin = p.stdin.as_mut().unwrap();
        write_packet(stdin, body).unwrap();
        stdin.flush().unwrap();
        assert_eq!(read_packet(&mut p.stdout, 1 << 20).unwrap().unwrap(), body);
    }
    drop(p.stdin.take());
    assert_eq!(p.exit().0, Some(0));
}

#[test]
fn a_spawned_counter_answers_calls_and_its_death_is_reported() {
    let mut p = PortProgram::start(&[]);
    let host = vm_pid(10);
    let Term::Pid(counter) = spawn_counter(&mut p, host, 1, Term::Int(5)) else {
        panic!("counter did not start")
    };
    assert_eq!(counter.node, Atom::new("ferrotp_port@localhost"));
    // gen_server:call(Counter, value) from <0.11.0>
    let caller = vm_pid(11);
    let call = Term::tuple(vec![
        Term::atom("$gen_call"),
        Term::tuple(vec![Term::Pid(caller), Term::Reference(vm_ref(99))]),
        Term::atom("value"),
    ]);
    p.send(&Frame::new(
        ControlMessage::Send { to: counter },
        Some(call),
    ));
    let reply = p.receive();
    assert!(matches!(reply.control, ControlMessage::SendSender { to, .. } if to == caller));
    assert_eq!(
        reply.payload,
        Some(Term::tuple(vec![Term::Reference(vm_ref(99)), Term::Int(5)]))
    );
    // exit(Counter, kill): the host's monitor reports killed.
    p.send(&Frame::new(
        ControlMessage::PayloadExit2 {
            from: host,
            to: counter,
        },
        Some(Term::atom("kill")),
    ));
    loop {
        let f = p.receive();
        if let ControlMessage::PayloadMonitorPExit { reference, to, .. } = f.control {
            assert_eq!((reference, to), (vm_ref(1), host));
            assert_eq!(f.payload, Some(Term::atom("killed")));
            break;
        }
    }
    drop(p.stdin.take());
    assert_eq!(p.exit().0, Some(0));
}

#[test]
fn a_bad_init_argument_is_a_spawn_error() {
    let mut p = PortProgram::start(&[]);
    let result = spawn_counter(&mut p, vm_pid(10), 2, Term::atom("nope"));
    assert!(!matches!(result, Term::Pid(_)), "{result:?}");
}

#[test]
fn a_malformed_frame_ends_the_program_with_status_2_and_one_line() {
    let mut p = PortProgram::start(&[]);
    let stdin = p.stdin.as_mut().unwrap();
    write_packet(stdin, b"\x83garbage").unwrap();
    stdin.flush().unwrap();
    let (status, err) = p.exit();
    assert_eq!(status, Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("malformed frame"), "{err}");
}

#[test]
fn end_of_input_ends_the_program() {
    let mut p = PortProgram::start(&[]);
    let _ = spawn_counter(&mut p, vm_pid(10), 3, Term::Int(0));
    drop(p.stdin.take());
    assert_eq!(p.exit().0, Some(0));
}
