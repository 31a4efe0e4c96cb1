//! Forwarding: names the network does not know go to the host's resolvers.
//!
//! A query is sent on unchanged, over UDP (or TCP when the client asked over
//! TCP), to each upstream in turn until one answers; the answer, matched by
//! the query's id, is relayed back as it came. The upstreams are the
//! nameservers of the host's `/etc/resolv.conf`, read by a process on the
//! host's side, so loopback ones (systemd-resolved's `127.0.0.53`) work.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::{Error, Result};

/// Overrides the upstream resolvers (`IP[:PORT],...`), instead of the
/// host's `/etc/resolv.conf`. Tests point it at a server of their own, so
/// that no query ever leaves the machine.
pub const UPSTREAM_VAR: &str = "BERTH_DNS_UPSTREAM";

/// The DNS port.
pub const PORT: u16 = 53;

/// How long an upstream has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// One DNS message over TCP: its length (two bytes), then itself; None
/// when the other side closed.
pub fn read_framed(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

/// Sends one DNS message over TCP, preceded by its length.
pub fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&message[..len as usize]);
    stream.write_all(&framed)
}

/// The first upstream reply to `query` over UDP, trying each upstream in turn.
pub fn forward_udp(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
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
pub fn forward_tcp(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
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
    use std::net::TcpListener;

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
