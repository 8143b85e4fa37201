//! EPMD, the Erlang Port Mapper Daemon: typed requests and responses, and a client.
//!
//! > "A node fetches the port number of another node through the EPMD (at the
//! > other host) to initiate a connection request. [...] By default the EPMD
//! > listens on port 4369." — OTP `erl_dist_protocol`, *EPMD Protocol*
//!
//! | Erlang                                   | Rust                                              |
//! |------------------------------------------|---------------------------------------------------|
//! | `erl_epmd:register_node(Name, Port)`     | `EpmdClient::new(addr).register(entry).await?`     |
//! | `erl_epmd:port_please(Name, Host)`       | `client.port_please("rust").await?`                |
//! | `net_adm:names()`                        | `client.names().await?`                            |
//! | `ERL_EPMD_PORT=4370 erl ...`             | `epmd::epmd_port()` reads the same variable        |
//!
//! Each `*_REQ` goes out as `Length:16, Request`; responses carry no length.
//! The messages are plain values ([`EpmdRequest`], [`Alive2Resp`],
//! [`Port2Resp`], [`NamesResp`]) with `encode`/`decode`, testable without a
//! socket; [`EpmdClient`] does the I/O. A registration lives as long as its
//! TCP connection: dropping the [`Registration`] unregisters the node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dist::epmd::EpmdError> {
//! use dist::epmd::{EpmdClient, NodeEntry};
//! let epmd = EpmdClient::local();
//! let registration = epmd.register(NodeEntry::hidden("rust", 45000)).await?;
//! println!("creation {}", registration.creation());
//! let peer = epmd.port_please("other").await?; // Some(entry) if registered
//! # let _ = peer; Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::{Reader, Truncated};

/// EPMD's default TCP port.
pub const DEFAULT_PORT: u16 = 4369;

/// `NodeType` 77: "normal Erlang node".
pub const NODE_TYPE_NORMAL: u8 = 77;
/// `NodeType` 72: "hidden node (C-node)".
pub const NODE_TYPE_HIDDEN: u8 = 72;
/// `Protocol` 0: "TCP/IPv4".
pub const PROTOCOL_TCP_IPV4: u8 = 0;

/// `ALIVE2_REQ` tag (`'x'`).
pub const ALIVE2_REQ: u8 = 120;
/// `ALIVE2_X_RESP` tag (`'v'`), 32-bit creation.
pub const ALIVE2_X_RESP: u8 = 118;
/// `ALIVE2_RESP` tag (`'y'`), 16-bit creation.
pub const ALIVE2_RESP: u8 = 121;
/// `PORT_PLEASE2_REQ` tag (`'z'`).
pub const PORT_PLEASE2_REQ: u8 = 122;
/// `PORT2_RESP` tag (`'w'`).
pub const PORT2_RESP: u8 = 119;
/// `NAMES_REQ` tag (`'n'`).
pub const NAMES_REQ: u8 = 110;
/// `DUMP_REQ` tag (`'d'`).
pub const DUMP_REQ: u8 = 100;
/// `KILL_REQ` tag (`'k'`).
pub const KILL_REQ: u8 = 107;

/// How long any single EPMD exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to EPMD.
#[derive(Debug, thiserror::Error)]
pub enum EpmdError {
    /// Could not connect, or the connection broke.
    #[error("epmd at {addr}: {source}")]
    Io {
        /// Where EPMD was expected.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// EPMD did not answer in time.
    #[error("epmd at {0}: no answer within {EXCHANGE_TIMEOUT:?}")]
    Timeout(SocketAddr),
    /// The bytes were not a valid EPMD message.
    #[error("malformed epmd message: {0}")]
    Malformed(String),
    /// EPMD refused to register the name (`Result` > 0: usually the name is taken).
    #[error("epmd refused to register {name:?} (result {result}): is the name already in use?")]
    Refused {
        /// The alive name.
        name: String,
        /// EPMD's result code.
        result: u8,
    },
}

impl From<Truncated> for EpmdError {
    fn from(t: Truncated) -> EpmdError {
        EpmdError::Malformed(t.to_string())
    }
}

/// The port EPMD listens on: `ERL_EPMD_PORT` if set (as `erl` reads it), else 4369.
pub fn epmd_port() -> u16 {
    std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// A node as EPMD knows it: the body of `ALIVE2_REQ` and of a successful `PORT2_RESP`.
///
/// > `PortNo`: The port number on which the node accept connection requests.
/// > `NodeType`: 77 = normal Erlang node, 72 = hidden node (C-node), ...
/// > `Protocol`: 0 = TCP/IPv4, ...
/// > `HighestVersion`/`LowestVersion`: the distribution protocol versions this node can handle.
/// > `NodeName`: The node name as an UTF-8 encoded string. `Extra`: Extra field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEntry {
    /// The alive name (the part before `@`).
    pub name: String,
    /// The node's distribution listen port.
    pub port: u16,
    /// [`NODE_TYPE_NORMAL`] or [`NODE_TYPE_HIDDEN`].
    pub node_type: u8,
    /// [`PROTOCOL_TCP_IPV4`].
    pub protocol: u8,
    /// Highest distribution version (6 since OTP 23).
    pub highest_version: u16,
    /// Lowest distribution version (6 since OTP 25).
    pub lowest_version: u16,
    /// The `Extra` field, usually empty.
    pub extra: Vec<u8>,
}

impl NodeEntry {
    /// A hidden node speaking versions 5..=6 on `port` (what ferrotp registers).
    pub fn hidden(name: &str, port: u16) -> NodeEntry {
        NodeEntry {
            name: name.to_owned(),
            port,
            node_type: NODE_TYPE_HIDDEN,
            protocol: PROTOCOL_TCP_IPV4,
            highest_version: 6,
            lowest_version: 5,
            extra: Vec::new(),
        }
    }

    /// A normal (visible) node speaking versions 5..=6 on `port`.
    pub fn normal(name: &str, port: u16) -> NodeEntry {
        NodeEntry {
            node_type: NODE_TYPE_NORMAL,
            ..NodeEntry::hidden(name, port)
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.port.to_be_bytes());
        out.push(self.node_type);
        out.push(self.protocol);
        out.extend_from_slice(&self.highest_version.to_be_bytes());
        out.extend_from_slice(&self.lowest_version.to_be_bytes());
        put_str16(out, self.name.as_bytes());
        put_str16(out, &self.extra);
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<NodeEntry, EpmdError> {
        let port = r.u16("PortNo")?;
        let node_type = r.u8("NodeType")?;
        let protocol = r.u8("Protocol")?;
        let highest_version = r.u16("HighestVersion")?;
        let lowest_version = r.u16("LowestVersion")?;
        let nlen = r.u16("Nlen")? as usize;
        let name = utf8(r.bytes(nlen, "NodeName")?)?;
        // Some EPMDs omit an empty Extra field entirely.
        let extra = if r.is_empty() {
            Vec::new()
        } else {
            let elen = r.u16("Elen")? as usize;
            r.bytes(elen, "Extra")?.to_vec()
        };
        Ok(NodeEntry {
            name,
            port,
            node_type,
            protocol,
            highest_version,
            lowest_version,
            extra,
        })
    }
}

fn put_str16(out: &mut Vec<u8>, s: &[u8]) {
    // Names and extras are bounded well below 64 KiB by the callers; clamp anyway.
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&s[..len]);
}

fn utf8(b: &[u8]) -> Result<String, EpmdError> {
    String::from_utf8(b.to_vec()).map_err(|_| EpmdError::Malformed("node name is not UTF-8".into()))
}

/// A request to EPMD, as sent after its 2-byte length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpmdRequest {
    /// `ALIVE2_REQ (120)`: `120, PortNo, NodeType, Protocol, HighestVersion, LowestVersion, Nlen, NodeName, Elen, Extra`.
    /// "The connection created to the EPMD must be kept as long as the node is a distributed node."
    Alive2(NodeEntry),
    /// `PORT_PLEASE2_REQ (122)`: `122, NodeName`.
    PortPlease2 {
        /// The alive name asked for.
        name: String,
    },
    /// `NAMES_REQ (110)`.
    Names,
    /// `DUMP_REQ (100)`: "to be regarded as a debug feature".
    Dump,
    /// `KILL_REQ (107)`: "This request kills the running EPMD."
    Kill,
}

impl EpmdRequest {
    /// The request with its 2-byte length prefix, ready to write.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(32);
        match self {
            EpmdRequest::Alive2(entry) => {
                body.push(ALIVE2_REQ);
                entry.encode_into(&mut body);
            }
            EpmdRequest::PortPlease2 { name } => {
                body.push(PORT_PLEASE2_REQ);
                body.extend_from_slice(name.as_bytes());
            }
            EpmdRequest::Names => body.push(NAMES_REQ),
            EpmdRequest::Dump => body.push(DUMP_REQ),
            EpmdRequest::Kill => body.push(KILL_REQ),
        }
        let mut out = Vec::with_capacity(body.len() + 2);
        put_str16(&mut out, &body);
        out
    }

    /// Decodes a request body (without its length prefix): EPMD's side.
    pub fn decode(body: &[u8]) -> Result<EpmdRequest, EpmdError> {
        let mut r = Reader::new(body);
        match r.u8("request tag")? {
            ALIVE2_REQ => Ok(EpmdRequest::Alive2(NodeEntry::decode_from(&mut r)?)),
            PORT_PLEASE2_REQ => Ok(EpmdRequest::PortPlease2 {
                name: utf8(r.rest())?,
            }),
            NAMES_REQ => Ok(EpmdRequest::Names),
            DUMP_REQ => Ok(EpmdRequest::Dump),
            KILL_REQ => Ok(EpmdRequest::Kill),
            other => Err(EpmdError::Malformed(format!("unknown request tag {other}"))),
        }
    }
}

/// `ALIVE2_X_RESP (118)`: `118, Result, Creation:32` — or the older
/// `ALIVE2_RESP (121)`: `121, Result, Creation:16`.
/// "If both the node and EPMD support distribution version 6 then the response
/// is ALIVE2_X_RESP otherwise it is the older ALIVE2_RESP." Result 0 is ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alive2Resp {
    /// 0 on success.
    pub result: u8,
    /// The node's incarnation ("creation").
    pub creation: u32,
    /// `true` for `ALIVE2_X_RESP` (32-bit creation).
    pub extended: bool,
}

impl Alive2Resp {
    /// Encodes the response (no length prefix).
    pub fn encode(&self) -> Vec<u8> {
        if self.extended {
            let mut out = vec![ALIVE2_X_RESP, self.result];
            out.extend_from_slice(&self.creation.to_be_bytes());
            out
        } else {
            let mut out = vec![ALIVE2_RESP, self.result];
            out.extend_from_slice(&(self.creation as u16).to_be_bytes());
            out
        }
    }

    /// Decodes the response.
    pub fn decode(bytes: &[u8]) -> Result<Alive2Resp, EpmdError> {
        let mut r = Reader::new(bytes);
        match r.u8("ALIVE2 response tag")? {
            ALIVE2_X_RESP => Ok(Alive2Resp {
                result: r.u8("Result")?,
                creation: r.u32("Creation")?,
                extended: true,
            }),
            ALIVE2_RESP => Ok(Alive2Resp {
                result: r.u8("Result")?,
                creation: u32::from(r.u16("Creation")?),
                extended: false,
            }),
            other => Err(EpmdError::Malformed(format!(
                "expected ALIVE2_X_RESP or ALIVE2_RESP, got tag {other}"
            ))),
        }
    }
}

/// `PORT2_RESP (119)`: `119, Result, PortNo, NodeType, ...` on success, or just
/// `119, Result` when `Result` > 0 (no such node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port2Resp(pub Result<NodeEntry, u8>);

impl Port2Resp {
    /// Encodes the response.
    pub fn encode(&self) -> Vec<u8> {
        match &self.0 {
            Ok(entry) => {
                let mut out = vec![PORT2_RESP, 0];
                entry.encode_into(&mut out);
                out
            }
            Err(result) => vec![PORT2_RESP, (*result).max(1)],
        }
    }

    /// Decodes the response.
    pub fn decode(bytes: &[u8]) -> Result<Port2Resp, EpmdError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("PORT2_RESP tag")?;
        if tag != PORT2_RESP {
            return Err(EpmdError::Malformed(format!(
                "expected PORT2_RESP, got tag {tag}"
            )));
        }
        match r.u8("Result")? {
            0 => Ok(Port2Resp(Ok(NodeEntry::decode_from(&mut r)?))),
            n => Ok(Port2Resp(Err(n))),
        }
    }
}

/// `NAMES_RESP`: `EPMDPortNo:32, NodeInfo*`, each `NodeInfo` being
/// `io:format("name ~ts at port ~p~n", [NodeName, Port])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesResp {
    /// The port EPMD itself listens on.
    pub epmd_port: u32,
    /// `(alive name, port)` of every registered node.
    pub nodes: Vec<(String, u16)>,
}

impl NamesResp {
    /// Encodes the response.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.epmd_port.to_be_bytes().to_vec();
        for (name, port) in &self.nodes {
            out.extend_from_slice(format!("name {name} at port {port}\n").as_bytes());
        }
        out
    }

    /// Decodes the response; lines that do not parse are skipped, as `net_adm` does.
    pub fn decode(bytes: &[u8]) -> Result<NamesResp, EpmdError> {
        let mut r = Reader::new(bytes);
        let epmd_port = r.u32("EPMDPortNo")?;
        let text = String::from_utf8_lossy(r.rest());
        let nodes = text
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("name ")?;
                let (name, port) = rest.rsplit_once(" at port ")?;
                Some((name.to_owned(), port.trim().parse().ok()?))
            })
            .collect();
        Ok(NamesResp { epmd_port, nodes })
    }
}

/// A client for one EPMD.
#[derive(Debug, Clone, Copy)]
pub struct EpmdClient {
    addr: SocketAddr,
}

impl EpmdClient {
    /// The EPMD at `addr`.
    pub fn new(addr: SocketAddr) -> EpmdClient {
        EpmdClient { addr }
    }

    /// The EPMD on this host: `127.0.0.1`, port [`epmd_port()`].
    pub fn local() -> EpmdClient {
        EpmdClient::new(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            epmd_port(),
        ))
    }

    /// The EPMD of `host` (resolved now), port [`epmd_port()`].
    pub async fn for_host(host: &str) -> Result<EpmdClient, EpmdError> {
        EpmdClient::for_host_port(host, epmd_port()).await
    }

    /// The EPMD of `host` (resolved now) on `port`.
    pub async fn for_host_port(host: &str, port: u16) -> Result<EpmdClient, EpmdError> {
        let unresolved = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let mut addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| EpmdError::Io {
                addr: unresolved,
                source,
            })?;
        // Prefer IPv4: EPMD and erl listen there by default.
        let all: Vec<SocketAddr> = addrs.by_ref().collect();
        let addr = all
            .iter()
            .find(|a| a.is_ipv4())
            .or(all.first())
            .copied()
            .ok_or_else(|| EpmdError::Io {
                addr: unresolved,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("host {host} not found"),
                ),
            })?;
        Ok(EpmdClient::new(addr))
    }

    /// Where this client connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn connect(&self) -> Result<TcpStream, EpmdError> {
        match tokio::time::timeout(EXCHANGE_TIMEOUT, TcpStream::connect(self.addr)).await {
            Err(_) => Err(EpmdError::Timeout(self.addr)),
            Ok(Err(source)) => Err(EpmdError::Io {
                addr: self.addr,
                source,
            }),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
        }
    }

    fn io(&self, source: std::io::Error) -> EpmdError {
        EpmdError::Io {
            addr: self.addr,
            source,
        }
    }

    /// Sends `request` and reads until EPMD closes the connection (PORT_PLEASE2, NAMES, KILL).
    async fn one_shot(&self, request: EpmdRequest) -> Result<Vec<u8>, EpmdError> {
        let exchange = async {
            let mut s = self.connect().await?;
            s.write_all(&request.encode())
                .await
                .map_err(|e| self.io(e))?;
            let mut out = Vec::new();
            // Answers are tiny; bound them so a confused peer cannot fill memory.
            (&mut s)
                .take(1 << 20)
                .read_to_end(&mut out)
                .await
                .map_err(|e| self.io(e))?;
            Ok(out)
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| EpmdError::Timeout(self.addr))?
    }

    /// `ALIVE2_REQ`: registers `entry`. The registration lasts as long as the
    /// returned [`Registration`] (its TCP connection) lives.
    pub async fn register(&self, entry: NodeEntry) -> Result<Registration, EpmdError> {
        let name = entry.name.clone();
        let exchange = async {
            let mut s = self.connect().await?;
            s.write_all(&EpmdRequest::Alive2(entry).encode())
                .await
                .map_err(|e| self.io(e))?;
            let tag = s.read_u8().await.map_err(|e| self.io(e))?;
            let rest = match tag {
                ALIVE2_X_RESP => 5,
                ALIVE2_RESP => 3,
                other => {
                    return Err(EpmdError::Malformed(format!(
                        "expected ALIVE2_X_RESP or ALIVE2_RESP, got tag {other}"
                    )))
                }
            };
            let mut buf = vec![tag; 1 + rest];
            s.read_exact(&mut buf[1..]).await.map_err(|e| self.io(e))?;
            Ok((s, Alive2Resp::decode(&buf)?))
        };
        let (stream, resp) = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| EpmdError::Timeout(self.addr))??;
        if resp.result != 0 {
            return Err(EpmdError::Refused {
                name,
                result: resp.result,
            });
        }
        Ok(Registration {
            creation: resp.creation,
            _stream: stream,
        })
    }

    /// `PORT_PLEASE2_REQ`: where does node `name` (alive part) listen? `None` if not registered.
    pub async fn port_please(&self, name: &str) -> Result<Option<NodeEntry>, EpmdError> {
        let bytes = self
            .one_shot(EpmdRequest::PortPlease2 {
                name: name.to_owned(),
            })
            .await?;
        Ok(Port2Resp::decode(&bytes)?.0.ok())
    }

    /// `NAMES_REQ`: every registered `(name, port)`, as `net_adm:names()`.
    pub async fn names(&self) -> Result<Vec<(String, u16)>, EpmdError> {
        let bytes = self.one_shot(EpmdRequest::Names).await?;
        Ok(NamesResp::decode(&bytes)?.nodes)
    }

    /// `KILL_REQ`: asks EPMD to stop; `true` if it answered `OK`.
    pub async fn kill(&self) -> Result<bool, EpmdError> {
        Ok(self.one_shot(EpmdRequest::Kill).await? == b"OK")
    }
}

/// A live EPMD registration (`ALIVE2_REQ`); dropping it closes the connection,
/// which unregisters the node.
#[derive(Debug)]
pub struct Registration {
    creation: u32,
    _stream: TcpStream,
}

impl Registration {
    /// The creation EPMD assigned: the incarnation number used in our pids, ports and refs.
    pub fn creation(&self) -> u32 {
        self.creation
    }
}

/// Starts the system's `epmd -daemon` (on `port`, or EPMD's default), as `erl`
/// does when no EPMD runs. Returns `Ok(())` when the command ran successfully,
/// an error if `epmd` is not installed or failed.
pub fn start_system_epmd(port: Option<u16>) -> std::io::Result<()> {
    let mut cmd = std::process::Command::new("epmd");
    if let Some(p) = port {
        cmd.arg("-port").arg(p.to_string());
    }
    let status = cmd
        .arg("-daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "epmd -daemon exited with {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive2_req_matches_the_spec_layout() {
        let bytes = EpmdRequest::Alive2(NodeEntry::hidden("rust", 0x1234)).encode();
        assert_eq!(
            bytes,
            [
                0, 17, // length
                120, 0x12, 0x34, 72, 0, 0, 6, 0, 5, // tag, port, hidden, tcp, versions
                0, 4, b'r', b'u', b's', b't', 0, 0
            ]
        );
        assert_eq!(
            EpmdRequest::decode(&bytes[2..]).unwrap(),
            EpmdRequest::Alive2(NodeEntry::hidden("rust", 0x1234))
        );
    }

    #[test]
    fn alive2_x_resp_carries_a_32_bit_creation() {
        let r = Alive2Resp::decode(&[118, 0, 0x64, 0, 0, 1]).unwrap();
        assert_eq!((r.result, r.creation, r.extended), (0, 0x6400_0001, true));
        let old = Alive2Resp::decode(&[121, 0, 0, 3]).unwrap();
        assert_eq!((old.creation, old.extended), (3, false));
        assert_eq!(Alive2Resp::decode(&old.encode()).unwrap(), old);
    }

    #[test]
    fn port2_resp_error_is_two_bytes() {
        assert_eq!(Port2Resp::decode(&[119, 1]).unwrap(), Port2Resp(Err(1)));
        let ok = Port2Resp(Ok(NodeEntry::normal("a", 4000)));
        assert_eq!(Port2Resp::decode(&ok.encode()).unwrap(), ok);
    }

    #[test]
    fn truncated_port2_resp_is_an_error_not_a_panic() {
        let ok = Port2Resp(Ok(NodeEntry::normal("abc", 4000))).encode();
        for cut in 0..ok.len() - 2 {
            assert!(Port2Resp::decode(&ok[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn names_resp_parses_io_format_lines() {
        let resp = NamesResp {
            epmd_port: 4369,
            nodes: vec![("a".into(), 1), ("rust_1".into(), 45000)],
        };
        assert_eq!(NamesResp::decode(&resp.encode()).unwrap(), resp);
    }
}
