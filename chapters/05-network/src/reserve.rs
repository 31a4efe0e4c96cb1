//! Published host ports, held by the engine for as long as the container runs.
//!
//! A DNAT rule does not ask whether someone else listens on the port: it
//! silently takes the traffic of a host service that was there first. So,
//! as Docker's `docker-proxy` does, the engine first binds every published
//! host port itself and keeps the sockets open until the container is
//! gone. A port that is taken fails the bind, and the run stops before
//! anything is created; a service that starts later on the port fails its
//! own bind instead of losing its traffic. The sockets are close-on-exec:
//! the container never holds them.
//!
//! The TCP socket is bound but does not listen, and has no `SO_REUSEADDR`:
//! the kernel then refuses the port to every other socket (even those that
//! set `SO_REUSEADDR`, as most servers do), while a connection that reaches
//! the host before the DNAT rule exists is reset rather than queued on a
//! socket nobody accepts from.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};

use crate::mode::{PortMapping, Proto};
use crate::{Error, Result};

/// Either kind of held socket.
#[derive(Debug)]
enum Held {
    Tcp(#[allow(dead_code)] OwnedFd),
    Udp(#[allow(dead_code)] UdpSocket),
}

/// The host ports of one container; released when dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    held: Vec<Held>,
}

impl Reservation {
    /// How many sockets are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

// ANCHOR: reserve
/// Binds every host port of `ports` (on its host address, or on all of
/// them), or fails with Docker's "port is already allocated".
pub fn reserve(ports: &[PortMapping]) -> Result<Reservation> {
    let mut reservation = Reservation::default();
    for port in ports {
        let ip = port.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let addr = SocketAddr::from((ip, port.host_port));
        let held = match port.proto {
            Proto::Tcp => bind_tcp(SocketAddrV4::new(ip, port.host_port)).map(Held::Tcp),
            Proto::Udp => UdpSocket::bind(addr).map(Held::Udp),
        };
        match held {
            Ok(held) => reservation.held.push(held),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Error::conflict(format!(
                    "Bind for {addr}/{} failed: port is already allocated",
                    port.proto
                )));
            }
            Err(e) => {
                return Err(Error::engine(format!(
                    "cannot publish {addr}/{}: {}",
                    port.proto,
                    ch02_namespaces::io_reason(&e)
                )));
            }
        }
    }
    Ok(reservation)
}
// ANCHOR_END: reserve

// ANCHOR: publish_all
/// `-P`: a mapping for each of the image's exposed ports that `given` does
/// not publish already, each to a free host port the kernel picks (a bind
/// to port 0, as Docker's ephemeral range), all held until all are chosen
/// so no two get the same one.
pub fn publish_all(exposed: &[(u16, Proto)], given: &[PortMapping]) -> Result<Vec<PortMapping>> {
    let mut chosen = vec![];
    let mut held = vec![];
    for &(container_port, proto) in exposed {
        let published = given
            .iter()
            .chain(&chosen)
            .any(|p| p.container_port == container_port && p.proto == proto);
        if published {
            continue;
        }
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        let picked = match proto {
            Proto::Tcp => bind_tcp(any).and_then(|fd| {
                let port = local_port(&fd)?;
                held.push(Held::Tcp(fd));
                Ok(port)
            }),
            Proto::Udp => UdpSocket::bind(any).and_then(|s| {
                let port = s.local_addr()?.port();
                held.push(Held::Udp(s));
                Ok(port)
            }),
        }
        .map_err(|e| Error::engine(format!("cannot choose a host port for -P: {e}")))?;
        chosen.push(PortMapping {
            host_ip: None,
            host_port: picked,
            container_port,
            proto,
        });
    }
    Ok(chosen)
}
// ANCHOR_END: publish_all

/// The port a socket was bound to.
fn local_port(fd: &OwnedFd) -> std::io::Result<u16> {
    use std::os::fd::AsRawFd;
    // SAFETY: zeroed sockaddr_in is valid; getsockname writes at most `len` bytes.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut sin as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u16::from_be(sin.sin_port))
}

/// A TCP socket bound to `addr`, not listening, without `SO_REUSEADDR`.
fn bind_tcp(addr: SocketAddrV4) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket calls; the descriptor is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size given.
    let bound = unsafe {
        libc::bind(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if bound < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn mapping(text: &str) -> PortMapping {
        text.parse().unwrap()
    }

    #[test]
    fn a_taken_port_is_refused_and_a_held_one_is_kept() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = reserve(&[mapping(&format!("127.0.0.1:{port}:80"))]).unwrap_err();
        assert!(e.message.ends_with("port is already allocated"), "{e}");
        assert_eq!(
            (e.kind, e.code),
            (ch01_chroot::error::ErrorKind::Conflict, 125)
        );
        drop(taken);
        let held = reserve(&[mapping(&format!("127.0.0.1:{port}:80"))]).unwrap();
        assert_eq!(held.len(), 1);
        assert!(TcpListener::bind(("127.0.0.1", port)).is_err());
        drop(held);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn publish_all_skips_published_ports_and_picks_distinct_ones() {
        let exposed = [(80, Proto::Tcp), (443, Proto::Tcp), (53, Proto::Udp)];
        let chosen = publish_all(&exposed, &[mapping("8080:80")]).unwrap();
        let ports: Vec<(u16, Proto)> = chosen.iter().map(|p| (p.container_port, p.proto)).collect();
        assert_eq!(ports, [(443, Proto::Tcp), (53, Proto::Udp)]);
        assert!(
            chosen
                .iter()
                .all(|p| p.host_port > 0 && p.host_ip.is_none())
        );
    }

    #[test]
    fn udp_ports_too() {
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = reserve(&[mapping(&format!("127.0.0.1:{port}:53/udp"))]).unwrap_err();
        assert!(
            e.message.contains("/udp failed: port is already allocated"),
            "{e}"
        );
    }
}
