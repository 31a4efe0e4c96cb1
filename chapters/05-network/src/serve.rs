//! The resolver process of one user-defined network.
//!
//! It runs in the host's network namespace and listens on UDP and TCP port
//! 53 of the network's gateway, the bridge's own address, which every
//! container of the network reaches directly and finds as `nameserver` in
//! its `/etc/resolv.conf`. A query for a name of the network's table
//! ([`crate::names`]) is answered from it ([`crate::answer`]), and so is a
//! name of another network the asking container is on; any other is
//! forwarded unchanged to the host's resolvers ([`crate::forward`]), and
//! the upstream's reply relayed back.
//!
//! The table is read again whenever its file changes (one `stat` per
//! query), and entries whose container is gone are dropped every second.
//! When no container is left, the resolver takes the state root's lock,
//! reads the table a last time, and, still alone, closes its sockets,
//! removes its pid file and exits: nothing runs for a network nobody uses.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ch04_overlay::atomic::write_atomic_volatile;
use ch04_overlay::owner::Owner;
use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::answer::{Decision, decide, encode, server_failure};
use crate::cidr::Cidr;
use crate::forward::{PORT, forward_tcp, forward_udp, read_framed, upstreams, write_framed};
use crate::lock::StateRoot;
use crate::names::{self, Table};
use crate::network::Host;
use crate::resolver::{READY, log_path, pid_path};
use crate::{Error, Result};

/// The network's names as last read, and how the file looked then.
struct Names {
    path: PathBuf,
    stamp: Option<(u64, i64, i64)>,
    table: Table,
    /// Where the other networks' tables are, and this one's name.
    state: StateRoot,
    network: String,
}

impl Names {
    /// The table, read again if its file changed since.
    fn current(&mut self) -> &Table {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()));
        if stamp != self.stamp {
            // A file being replaced is read at the next query.
            if let Ok(mut table) = names::read(&self.path) {
                table.take_dead(Owner::is_alive);
                self.table = table;
                self.stamp = stamp;
            }
        }
        &self.table
    }

    // ANCHOR: decide_for
    /// The decision for `query` from the container at `peer`: this
    /// network's names first; a name it does not have is looked up in the
    /// other networks the same container is on before it is forwarded.
    fn decide_for(&mut self, query: &[u8], peer: &SocketAddr) -> Decision {
        let decision = decide(self.current(), query);
        let (Decision::Forward, IpAddr::V4(querier)) = (&decision, peer.ip()) else {
            return decision;
        };
        let others = names::other_tables(&self.state, &self.network);
        if others.is_empty() {
            return decision;
        }
        decide(&self.table.view_of(querier, &others), query)
    }
    // ANCHOR_END: decide_for

    /// Where to forward `peer`'s queries: its `--dns` servers, if it has
    /// any, else the host's resolvers (`host`).
    fn upstreams_for(&self, peer: &SocketAddr, host: &[SocketAddr]) -> Vec<SocketAddr> {
        let own = self
            .table
            .entries
            .iter()
            .find(|e| IpAddr::V4(e.ip) == peer.ip())
            .map(|e| &e.upstreams)
            .filter(|u| !u.is_empty());
        match own {
            Some(servers) => servers
                .iter()
                .map(|ip| SocketAddr::from((*ip, 53)))
                .collect(),
            None => host.to_vec(),
        }
    }

    /// Drops the entries of containers that died without detaching.
    fn prune(&mut self) {
        self.current();
        self.table.take_dead(Owner::is_alive);
    }
}

/// What the request handlers share.
struct Shared {
    names: Mutex<Names>,
    upstreams: Vec<SocketAddr>,
    subnet: Cidr,
    /// Forwarded queries and TCP connections still being served.
    busy: AtomicUsize,
}

// ANCHOR: serve_main
/// Runs the resolver of network `name` of `host` until its last container
/// is gone. Prints [`READY`] on stdout once it listens.
pub fn main(host: &Host, name: &str) -> Result<()> {
    let network = host
        .network_snapshot(name)?
        .ok_or_else(|| Error::not_found(format!("network {name} not found")))?;
    let upstreams = upstreams(network.gateway)?;
    let address = SocketAddr::from((network.gateway, PORT));
    let udp = retry(|| UdpSocket::bind(address), address)?;
    let tcp = retry(|| TcpListener::bind(address), address)?;
    for nonblocking in [udp.set_nonblocking(true), tcp.set_nonblocking(true)] {
        nonblocking.map_err(|e| Error::engine(format!("{address}: {e}")))?;
    }
    let pid_file = pid_path(&host.state, name);
    write_atomic_volatile(&pid_file, Owner::current().render().as_bytes())?;
    let shared = Arc::new(Shared {
        names: Mutex::new(Names {
            path: names::table_path(&host.state, name),
            stamp: None,
            table: Table::default(),
            state: host.state.clone(),
            network: name.to_string(),
        }),
        upstreams,
        subnet: network.subnet,
        busy: AtomicUsize::new(0),
    });
    ready();
    let mut last_prune = Instant::now();
    loop {
        let (udp_ready, tcp_ready) = wait(&udp, &tcp);
        if udp_ready {
            serve_datagrams(&udp, &shared);
        }
        if tcp_ready {
            accept(&tcp, &shared);
        }
        if last_prune.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last_prune = Instant::now();
        let empty = {
            let mut names = shared.names.lock().unwrap();
            names.prune();
            names.table.entries.is_empty()
        };
        if empty && shared.busy.load(Ordering::SeqCst) == 0 {
            if let Some(lock) = last_look(host, &shared) {
                // Sockets first: a resolver started after the lock goes
                // must find the port free.
                drop((udp, tcp));
                if Owner::read(&pid_file) == Some(Owner::current()) {
                    let _ = std::fs::remove_file(&pid_file);
                }
                // A log with nothing in it says nothing.
                let log = log_path(&host.state, name);
                if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
                    let _ = std::fs::remove_file(log);
                }
                drop(lock);
                return Ok(());
            }
        }
    }
}
// ANCHOR_END: serve_main

/// Under the state root's lock, the table read afresh: the lock if it is
/// still empty (the caller exits holding it), None if a container joined.
/// A state root removed meanwhile is empty for good.
fn last_look(host: &Host, shared: &Shared) -> Option<Option<Flock<File>>> {
    // Opened, never created: a removed state root must not come back.
    let Ok(file) = File::open(host.state.dir().join("lock")) else {
        return Some(None);
    };
    let lock = Flock::lock(file, FlockArg::LockExclusive).ok()?;
    let mut names = shared.names.lock().unwrap();
    names.stamp = None;
    names.prune();
    names.table.entries.is_empty().then_some(Some(lock))
}

/// Tells the attaching process we listen, then lets go of its pipe.
fn ready() {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{READY}");
    let _ = out.flush();
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(null.as_fd());
    }
}

/// Binds, retrying for a few seconds while the address is in use (by a
/// resolver that is just exiting) or not yet on the bridge.
fn retry<T>(bind: impl Fn() -> std::io::Result<T>, address: SocketAddr) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match bind() {
            Ok(socket) => return Ok(socket),
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(Error::engine(format!("cannot listen on {address}: {e}"))),
        }
    }
}

/// Waits up to a second for a datagram or a connection.
fn wait(udp: &UdpSocket, tcp: &TcpListener) -> (bool, bool) {
    let mut fds = [
        PollFd::new(udp.as_fd(), PollFlags::POLLIN),
        PollFd::new(tcp.as_fd(), PollFlags::POLLIN),
    ];
    if poll(&mut fds, PollTimeout::from(1000u16)).unwrap_or(0) <= 0 {
        return (false, false);
    }
    let readable = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
    (readable(&fds[0]), readable(&fds[1]))
}

/// True for a client on the network: another network's containers reach
/// this address too (it is the host's), but get no answer from it.
fn on_network(shared: &Shared, peer: &SocketAddr) -> bool {
    match peer.ip() {
        IpAddr::V4(ip) => shared.subnet.contains(ip),
        IpAddr::V6(_) => false,
    }
}

// ANCHOR: serve_datagrams
/// Answers every datagram waiting; a forwarded one in a thread of its own,
/// so that a slow upstream never holds the network's own names up.
fn serve_datagrams(udp: &UdpSocket, shared: &Arc<Shared>) {
    let mut buf = [0u8; 4096];
    while let Ok((n, peer)) = udp.recv_from(&mut buf) {
        if !on_network(shared, &peer) {
            continue;
        }
        let query = buf[..n].to_vec();
        let (decision, upstreams) = {
            let mut names = shared.names.lock().unwrap();
            let decision = names.decide_for(&query, &peer);
            (decision, names.upstreams_for(&peer, &shared.upstreams))
        };
        match decision {
            Decision::Reply(reply) => {
                if let Some(bytes) = encode(&reply, &query, Some(buf.len())) {
                    let _ = udp.send_to(&bytes, peer);
                }
            }
            Decision::Forward => {
                let Ok(socket) = udp.try_clone() else {
                    continue;
                };
                let shared = shared.clone();
                shared.busy.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let reply = forward_udp(&upstreams, &query);
                    if let Some(bytes) = reply.or_else(|| server_failure(&query)) {
                        let _ = socket.send_to(&bytes, peer);
                    }
                    drop(socket);
                    shared.busy.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Decision::Drop => {}
        }
    }
}
// ANCHOR_END: serve_datagrams

/// Accepts the waiting connections, each served in a thread.
fn accept(tcp: &TcpListener, shared: &Arc<Shared>) {
    while let Ok((stream, peer)) = tcp.accept() {
        if !on_network(shared, &peer) {
            continue;
        }
        let shared = shared.clone();
        shared.busy.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &shared);
            shared.busy.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// DNS over TCP: each message preceded by its length, until the client closes.
fn serve_connection(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr()?;
    while let Some(query) = read_framed(&mut stream)? {
        let (decision, upstreams) = {
            let mut names = shared.names.lock().unwrap();
            let decision = names.decide_for(&query, &peer);
            (decision, names.upstreams_for(&peer, &shared.upstreams))
        };
        let reply = match decision {
            Decision::Reply(reply) => encode(&reply, &query, None),
            Decision::Forward => forward_tcp(&upstreams, &query).or_else(|| server_failure(&query)),
            Decision::Drop => None,
        };
        let Some(reply) = reply else { break };
        write_framed(&mut stream, &reply)?;
    }
    Ok(())
}
