//! The resolver process of one user-defined network.
//!
//! It runs in the host's network namespace and listens on UDP and TCP port
//! 53 of the network's gateway, the bridge's own address, which every
//! container of the network reaches directly and finds as `nameserver` in
//! its `/etc/resolv.conf`. A query for a name of the network's table
//! ([`crate::names`]) is answered from it ([`crate::answer`]); any other is
//! forwarded unchanged to the host's resolvers, those of the host's
//! `/etc/resolv.conf` (loopback ones included: the resolver is on the
//! host's side), and the upstream's reply relayed back.
//!
//! The table is read again whenever its file changes (one `stat` per
//! query), and entries whose container is gone are dropped every second.
//! When no container is left, the resolver takes the state root's lock,
//! reads the table a last time, and, still alone, closes its sockets,
//! removes its pid file and exits: nothing runs for a network nobody uses.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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
use crate::names::{self, Table};
use crate::network::Host;
use crate::resolver::{READY, log_path, pid_path};
use crate::{Error, Result};

/// Overrides the upstream resolvers (`IP[:PORT],...`), instead of the
/// host's `/etc/resolv.conf`. Tests point it at a server of their own, so
/// that no query ever leaves the machine.
pub const UPSTREAM_VAR: &str = "BERTH_DNS_UPSTREAM";

/// The DNS port.
pub const PORT: u16 = 53;

/// How long an upstream has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The network's names as last read, and how the file looked then.
struct Names {
    path: PathBuf,
    stamp: Option<(u64, i64, i64)>,
    table: Table,
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
        let decision = decide(shared.names.lock().unwrap().current(), &query);
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
                    let reply = forward_udp(&shared.upstreams, &query);
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
    while let Some(query) = read_framed(&mut stream)? {
        let decision = decide(shared.names.lock().unwrap().current(), &query);
        let reply = match decision {
            Decision::Reply(reply) => encode(&reply, &query, None),
            Decision::Forward => {
                forward_tcp(&shared.upstreams, &query).or_else(|| server_failure(&query))
            }
            Decision::Drop => None,
        };
        let Some(reply) = reply else { break };
        write_framed(&mut stream, &reply)?;
    }
    Ok(())
}

fn read_framed(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&message[..len as usize]);
    stream.write_all(&framed)
}

/// The first upstream reply to `query` over UDP, trying each upstream in turn.
fn forward_udp(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    upstreams.iter().find_map(|upstream| {
        let local: SocketAddr = match upstream {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).ok()?;
        socket.connect(upstream).ok()?;
        socket.set_read_timeout(Some(UPSTREAM_TIMEOUT)).ok()?;
        socket.send(query).ok()?;
        let mut buf = vec![0u8; 65535];
        // Only a reply with the query's id is the answer.
        loop {
            let n = socket.recv(&mut buf).ok()?;
            if n >= 2 && buf[..2] == query[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    })
}

/// The first upstream reply to `query` over TCP.
fn forward_tcp(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    upstreams.iter().find_map(|upstream| {
        let mut stream = TcpStream::connect_timeout(upstream, UPSTREAM_TIMEOUT).ok()?;
        stream.set_read_timeout(Some(UPSTREAM_TIMEOUT * 2)).ok()?;
        write_framed(&mut stream, query).ok()?;
        read_framed(&mut stream).ok()?
    })
}

// ANCHOR: upstreams
/// The resolvers to forward to: [`UPSTREAM_VAR`] if set, else the
/// nameservers of the host's `/etc/resolv.conf`, loopback ones included
/// (this process is on the host's side), never our own `gateway`.
pub fn upstreams(gateway: Ipv4Addr) -> Result<Vec<SocketAddr>> {
    let listed = match std::env::var(UPSTREAM_VAR) {
        Ok(list) if !list.is_empty() => parse_upstreams(&list)?,
        _ => nameservers(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()),
    };
    Ok(listed
        .into_iter()
        .filter(|a| a.ip() != IpAddr::V4(gateway))
        .collect())
}
// ANCHOR_END: upstreams

/// `IP[:PORT],...` (port 53 when left out).
pub fn parse_upstreams(list: &str) -> Result<Vec<SocketAddr>> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            item.parse::<SocketAddr>()
                .or_else(|_| {
                    item.parse::<IpAddr>()
                        .map(|ip| SocketAddr::from((ip, PORT)))
                })
                .map_err(|_| {
                    Error::invalid(format!(
                        "invalid {UPSTREAM_VAR} entry {item:?}: expected IP or IP:PORT"
                    ))
                })
        })
        .collect()
}

/// The `nameserver` addresses of a resolv.conf, on port 53.
pub fn nameservers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next()?.parse::<IpAddr>().ok())
                .flatten()
        })
        .map(|ip| SocketAddr::from((ip, PORT)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_from_resolv_conf() {
        let text = "# x\nnameserver 127.0.0.53\nnameserver ::1\nsearch lan\nnameserver bogus\n";
        assert_eq!(
            nameservers(text),
            [
                "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(
            parse_upstreams("127.0.0.1:5353, 192.0.2.1").unwrap(),
            [
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "192.0.2.1:53".parse().unwrap()
            ]
        );
        assert!(parse_upstreams("nope").is_err());
    }

    /// A forwarded query reaches a server of ours on loopback, and its
    /// reply (matched by id) comes back; a dead upstream gives nothing.
    #[test]
    fn forwarding_over_udp_and_tcp() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let tcp = TcpListener::bind(addr).unwrap();
        let udp_side = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, peer) = server.recv_from(&mut buf).unwrap();
            // An unrelated datagram first, then the reply.
            server.send_to(b"\x00\x00junk", peer).unwrap();
            let mut reply = buf[..n].to_vec();
            reply.extend_from_slice(b"udp");
            server.send_to(&reply, peer).unwrap();
        });
        let tcp_side = std::thread::spawn(move || {
            let (mut conn, _) = tcp.accept().unwrap();
            let mut query = read_framed(&mut conn).unwrap().unwrap();
            query.extend_from_slice(b"tcp");
            write_framed(&mut conn, &query).unwrap();
        });
        assert_eq!(forward_udp(&[addr], b"\x12\x34q").unwrap(), b"\x12\x34qudp");
        assert_eq!(forward_tcp(&[addr], b"\x12\x34q").unwrap(), b"\x12\x34qtcp");
        udp_side.join().unwrap();
        tcp_side.join().unwrap();
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(forward_udp(&[closed], b"\x12\x34q"), None);
    }
}
