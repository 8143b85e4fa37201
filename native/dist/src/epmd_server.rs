//! An embedded EPMD, for standalone use when no `epmd` runs on the host.
//!
//! It answers the same requests as OTP's `epmd` (see [`crate::epmd`]):
//! `ALIVE2_REQ` (registration held while the connection stays open),
//! `PORT_PLEASE2_REQ`, `NAMES_REQ`, `DUMP_REQ` and `KILL_REQ`, so `erl` nodes
//! can register with it and find ferrotp nodes through it.
//!
//! | shell                      | Rust                                                   |
//! |----------------------------|--------------------------------------------------------|
//! | `epmd -port 4370 -daemon`  | `dist::epmd_server::serve("127.0.0.1:4370".parse()?)`  |
//! | `epmd -port 4370 -kill`    | `server.shutdown()` (or drop it)                       |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = dist::epmd_server::serve("127.0.0.1:0".parse().unwrap()).await?;
//! let client = dist::epmd::EpmdClient::new(server.local_addr());
//! # let _ = client; Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::epmd::{Alive2Resp, EpmdRequest, NamesResp, NodeEntry, Port2Resp};

/// The largest request accepted (a registration carries a name of at most 255 characters).
const MAX_REQUEST: usize = 4096;

/// A running embedded EPMD. Dropping it stops the server (registered nodes'
/// connections are closed, which unregisters them).
#[derive(Debug)]
pub struct EpmdServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl EpmdServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for EpmdServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[derive(Default)]
struct Registry {
    nodes: HashMap<String, (NodeEntry, u64)>,
    next_conn: u64,
    next_creation: u32,
}

type Shared = Arc<Mutex<Registry>>;

/// Binds `addr` and serves EPMD requests on it until the returned handle is dropped.
pub async fn serve(addr: SocketAddr) -> std::io::Result<EpmdServer> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let registry: Shared = Arc::new(Mutex::new(Registry {
        // Start somewhere random so two incarnations of a node get different creations.
        next_creation: rand::random::<u32>() | 1,
        ..Registry::default()
    }));
    info!(%local_addr, "embedded epmd listening");
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let registry = registry.clone();
                        let stop = stopped.clone();
                        tokio::spawn(async move {
                            if let Err(e) = handle(stream, registry, stop, local_addr.port()).await {
                                debug!(%peer, error = %e, "epmd connection ended");
                            }
                        });
                    }
                    Err(e) => warn!(error = %e, "epmd accept failed"),
                },
            }
        }
        info!(%local_addr, "embedded epmd stopped");
    });
    Ok(EpmdServer { local_addr, stop })
}

async fn handle(
    mut stream: TcpStream,
    registry: Shared,
    mut stopped: watch::Receiver<bool>,
    epmd_port: u16,
) -> std::io::Result<()> {
    let len = stream.read_u16().await? as usize;
    if len == 0 || len > MAX_REQUEST {
        return Err(std::io::Error::other(format!("bad request length {len}")));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    let request = EpmdRequest::decode(&body).map_err(std::io::Error::other)?;
    match request {
        EpmdRequest::Alive2(entry) => {
            let name = entry.name.clone();
            let extended = entry.highest_version >= 6;
            let registered = {
                let mut reg = lock(&registry);
                if reg.nodes.contains_key(&name) {
                    None
                } else {
                    reg.next_conn += 1;
                    let conn = reg.next_conn;
                    let mut creation = reg.next_creation;
                    reg.next_creation = reg.next_creation.wrapping_add(1).max(1);
                    if !extended {
                        creation = creation % 3 + 1;
                    }
                    reg.nodes.insert(name.clone(), (entry, conn));
                    Some((conn, creation))
                }
            };
            let Some((conn, creation)) = registered else {
                stream
                    .write_all(
                        &Alive2Resp {
                            result: 1,
                            creation: 0,
                            extended,
                        }
                        .encode(),
                    )
                    .await?;
                return Ok(());
            };
            info!(node = %name, creation, "epmd: registered");
            stream
                .write_all(
                    &Alive2Resp {
                        result: 0,
                        creation,
                        extended,
                    }
                    .encode(),
                )
                .await?;
            // The registration lives until the node closes the connection.
            let mut sink = [0u8; 64];
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    n = stream.read(&mut sink) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    },
                }
            }
            let mut reg = lock(&registry);
            if reg.nodes.get(&name).is_some_and(|(_, c)| *c == conn) {
                reg.nodes.remove(&name);
            }
            info!(node = %name, "epmd: unregistered");
        }
        EpmdRequest::PortPlease2 { name } => {
            let found = lock(&registry).nodes.get(&name).map(|(e, _)| e.clone());
            stream
                .write_all(&Port2Resp(found.ok_or(1)).encode())
                .await?;
        }
        EpmdRequest::Names => {
            let nodes = lock(&registry)
                .nodes
                .values()
                .map(|(e, _)| (e.name.clone(), e.port))
                .collect();
            let resp = NamesResp {
                epmd_port: u32::from(epmd_port),
                nodes,
            };
            stream.write_all(&resp.encode()).await?;
        }
        EpmdRequest::Dump => {
            let mut out = u32::from(epmd_port).to_be_bytes().to_vec();
            for (e, _) in lock(&registry).nodes.values() {
                out.extend_from_slice(
                    format!("active name     <{}> at port {}, fd = 0\n", e.name, e.port).as_bytes(),
                );
            }
            stream.write_all(&out).await?;
        }
        EpmdRequest::Kill => {
            // An embedded EPMD belongs to its host program: acknowledge, but
            // only the owner stops it.
            stream.write_all(b"OK").await?;
        }
    }
    stream.shutdown().await
}

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    // A poisoned lock only means another connection task panicked mid-update;
    // the map itself is still consistent.
    r.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epmd::EpmdClient;

    #[tokio::test]
    async fn registration_lasts_as_long_as_the_connection() {
        let server = serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = EpmdClient::new(server.local_addr());
        let reg = client
            .register(NodeEntry::hidden("emb", 4321))
            .await
            .unwrap();
        assert_ne!(reg.creation(), 0);
        let found = client.port_please("emb").await.unwrap().unwrap();
        assert_eq!((found.port, found.node_type), (4321, 72));
        assert_eq!(
            client.names().await.unwrap(),
            vec![("emb".to_owned(), 4321)]
        );
        drop(reg);
        // Unregistration happens when the server sees the close: poll for it.
        let mut gone = false;
        for _ in 0..200 {
            if client.port_please("emb").await.unwrap().is_none() {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(gone, "node still registered after its connection closed");
    }

    #[tokio::test]
    async fn a_taken_name_is_refused() {
        let server = serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = EpmdClient::new(server.local_addr());
        let _reg = client
            .register(NodeEntry::hidden("twice", 1))
            .await
            .unwrap();
        let second = client.register(NodeEntry::hidden("twice", 2)).await;
        assert!(matches!(
            second,
            Err(crate::epmd::EpmdError::Refused { .. })
        ));
    }
}
