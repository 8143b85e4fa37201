//! The outbox: frames leaving the port program, written to stdout by one
//! writer thread, and the [`Transport`] that feeds it.
//!
//! Processes must not block on I/O (`Transport::deliver` is called from
//! inside them), so a signal for the host is encoded by the sending
//! process itself, length prefix included, and queued; the writer thread
//! writes whatever is queued and flushes when the queue runs dry, so a
//! burst of frames costs one `write(2)`.
//!
//! | Erlang (a port program written in C)      | Rust                               |
//! |-------------------------------------------|------------------------------------|
//! | `write_exact(buf, len)` on fd 1           | `outbox.push(frame)`               |
//!
//! ```
//! use port::outbox::Outbox;
//! use port::frame::Frame;
//! use dist::control::ControlMessage;
//! use etf::{Atom, Pid, Term};
//! let (outbox, writer) = Outbox::start(Vec::new());
//! let to = Pid { node: Atom::new("vm@h"), id: 1, serial: 0, creation: 1 };
//! outbox.push(&Frame::new(ControlMessage::Send { to }, Some(Term::Int(1))));
//! drop(outbox);
//! let wire = writer.join().unwrap().unwrap();
//! assert_eq!(&wire[..4], &(wire.len() as u32 - 4).to_be_bytes());
//! ```

use std::io::{self, BufWriter, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

use ferrotp::{Signal, Transport};

use crate::frame::Frame;
use crate::signals::signal_to_frame;

/// Queues encoded frames for the writer thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<u8>>,
}

impl Outbox {
    /// Starts the writer thread on `out`. It ends when every `Outbox`
    /// clone is dropped (returning `out`), or at the first write error.
    pub fn start<W: Write + Send + 'static>(out: W) -> (Outbox, JoinHandle<io::Result<W>>) {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let writer = std::thread::Builder::new()
            .name("ferrotp-port-writer".into())
            .spawn(move || write_loop(out, rx))
            .unwrap_or_else(|e| panic!("cannot start the port writer thread: {e}"));
        (Outbox { tx }, writer)
    }

    /// Queues `frame`; silently dropped once the writer has stopped (the
    /// host is gone, and the port program is ending).
    pub fn push(&self, frame: &Frame) {
        let mut packet = Vec::with_capacity(64);
        packet.extend_from_slice(&[0; 4]);
        frame.encode_into(&mut packet);
        let len = (packet.len() - 4) as u32;
        packet[..4].copy_from_slice(&len.to_be_bytes());
        let _ = self.tx.send(packet);
    }
}

fn write_loop<W: Write>(out: W, rx: mpsc::Receiver<Vec<u8>>) -> io::Result<W> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(packet) = rx.recv() {
        out.write_all(&packet)?;
        while let Ok(packet) = rx.try_recv() {
            out.write_all(&packet)?;
        }
        out.flush()?;
    }
    out.into_inner().map_err(|e| e.into_error())
}

/// The runtime's [`Transport`] to the host: every signal for a pid of the
/// host's VM becomes a frame.
#[derive(Debug)]
pub struct PortTransport {
    outbox: Outbox,
}

impl PortTransport {
    /// A transport writing to `outbox`.
    pub fn new(outbox: Outbox) -> PortTransport {
        PortTransport { outbox }
    }
}

impl Transport for PortTransport {
    fn deliver(&self, signal: Signal) {
        self.outbox.push(&signal_to_frame(signal));
    }
}
