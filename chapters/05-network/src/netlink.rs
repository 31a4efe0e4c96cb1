//! Routing netlink: what the `ip` command does, without the `ip` command.
//!
//! `ip link add`, `ip addr add` and `ip route add` are thin clients: each
//! opens a `NETLINK_ROUTE` socket, sends the kernel one request
//! (`RTM_NEWLINK`, `RTM_NEWADDR`, `RTM_NEWROUTE`, ...) and waits for its
//! acknowledgement. [`Rtnl`] is that socket, kept open for a whole attach:
//! the same requests, encoded by `netlink-packet-route`, with no process
//! started for each. A netlink socket belongs to the network namespace of
//! the thread that opened it, so a socket opened on a thread that joined a
//! container's namespace ([`crate::netns::Netns::run`]) configures the
//! container's side.
//!
//! Every request names its `ip` equivalent, which [`crate::trace`] shows
//! (`--show-commands`) and errors quote.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::cidr::Cidr;
use crate::netns::Netns;
use crate::{Error, Result, trace};

/// One link as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, ... (empty for links without a kind, such as `lo`).
    pub kind: String,
    pub up: bool,
    /// The index of the bridge it is plugged into.
    pub master: Option<u32>,
    /// True when its peer lives in another namespace (a veth moved away).
    pub peer_elsewhere: bool,
}

/// An open `NETLINK_ROUTE` socket in one network namespace.
pub struct Rtnl {
    socket: Socket,
    sequence: u32,
    /// How the shown commands enter the namespace (`nsenter --net=PATH `), if not the caller's.
    enter: String,
}

fn failed(command: &str, e: impl std::fmt::Display) -> Error {
    Error::engine(format!("`{command}` failed: {e}"))
}

impl Rtnl {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl> {
        let fail = |e: std::io::Error| Error::engine(format!("cannot open a netlink socket: {e}"));
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(fail)?;
        socket.bind_auto().map_err(fail)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(fail)?;
        Ok(Rtnl {
            socket,
            sequence: 0,
            enter: String::new(),
        })
    }

    /// A socket in `netns`: opened by a thread that joined it, so it stays
    /// there (the thread itself ends at once).
    pub fn open_in(netns: &Netns) -> Result<Rtnl> {
        let mut rtnl = netns.run(Rtnl::open)??;
        rtnl.enter = format!("nsenter --net={} ", netns.path().display());
        Ok(rtnl)
    }

    /// Sends one request and collects the replies up to its acknowledgement
    /// (or the end of a dump); a refusal is the kernel's errno.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> std::io::Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(message));
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.sequence;
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf[..]);
        self.socket.send(&buf, 0)?;
        let mut replies = vec![];
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            let mut offset = 0;
            while offset < data.len() {
                let reply: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&data[offset..]).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                    })?;
                let length = reply.header.length as usize;
                if reply.header.sequence_number == self.sequence {
                    match reply.payload {
                        NetlinkPayload::Done(_) => return Ok(replies),
                        NetlinkPayload::Error(e) if e.code.is_some() => {
                            return Err(std::io::Error::from_raw_os_error(-e.raw_code()));
                        }
                        NetlinkPayload::Error(_) => return Ok(replies),
                        NetlinkPayload::InnerMessage(m) => replies.push(m),
                        _ => {}
                    }
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
        }
    }

    /// A request that reads: `command` is its `ip` equivalent, for errors.
    fn read(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        command: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.request(message, flags).map_err(|e| failed(command, e))
    }

    /// A change, acknowledged, shown as its `ip` equivalent.
    fn change(&mut self, message: RouteNetlinkMessage, flags: u16, command: &str) -> Result<()> {
        self.try_change(message, flags, command)
            .map_err(|e| failed(command, e))
    }

    fn try_change(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        command: &str,
    ) -> std::io::Result<()> {
        if trace::enabled() {
            trace::command(&format!("{}{command}", self.enter));
        }
        self.request(message, NLM_F_ACK | flags).map(drop)
    }

    /// Every link of the namespace (`ip -d link show`).
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let replies = self.read(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "ip -d link show",
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, if there is one (`ip -d link show NAME`).
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(message), NLM_F_ACK) {
            Ok(replies) => Ok(replies.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(failed(&format!("ip -d link show {name}"), e)),
        }
    }

    fn index(&mut self, name: &str) -> Result<u32> {
        self.link(name)?
            .map(|l| l.index)
            .ok_or_else(|| Error::engine(format!("no link called {name}")))
    }

    // ANCHOR: create
    /// `ip link add NAME type bridge`.
    pub fn add_bridge(&mut self, name: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.change(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("ip link add {name} type bridge"),
        )
    }

    /// `ip link add HOST type veth peer name PEER netns PATH`: the peer is
    /// born in the namespace open as `fd` (no move afterwards, which would
    /// cost the kernel a synchronisation); fails if either name exists.
    /// The peer gets `peer_mac` as its hardware address when given.
    pub fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_mac: Option<[u8; 6]>,
        fd: RawFd,
        path: &str,
    ) -> Result<()> {
        let mut other = LinkMessage::default();
        other.attributes = vec![
            LinkAttribute::IfName(peer.into()),
            LinkAttribute::NetNsFd(fd),
        ];
        if let Some(mac) = peer_mac {
            other.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut message = LinkMessage::default();
        message.attributes = vec![
            LinkAttribute::IfName(host.into()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(other))),
            ]),
        ];
        self.change(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("ip link add {host} type veth peer name {peer} netns {path}"),
        )
    }

    /// `ip link set NAME master BRIDGE up`.
    pub fn set_master_up(&mut self, name: &str, bridge: &str) -> Result<()> {
        let master = self.index(bridge)?;
        let mut message = up(LinkMessage::default());
        message.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::Controller(master),
        ];
        self.change(
            RouteNetlinkMessage::SetLink(message),
            0,
            &format!("ip link set {name} master {bridge} up"),
        )
    }

    /// `ip link set NAME type bridge_slave hairpin on`: the bridge may send
    /// a frame back out of the port it came in by.
    pub fn set_hairpin(&mut self, name: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                    true,
                )])),
            ]),
        ];
        self.change(
            RouteNetlinkMessage::NewLink(message),
            0,
            &format!("ip link set {name} type bridge_slave hairpin on"),
        )
    }

    // ANCHOR_END: create

    /// `ip link set NAME up`.
    pub fn set_up(&mut self, name: &str) -> Result<()> {
        let mut message = up(LinkMessage::default());
        message.attributes = vec![LinkAttribute::IfName(name.into())];
        self.change(
            RouteNetlinkMessage::SetLink(message),
            0,
            &format!("ip link set {name} up"),
        )
    }

    /// `ip link del NAME`; a missing link is fine.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message.attributes = vec![LinkAttribute::IfName(name.into())];
        let command = format!("ip link del {name}");
        match self.try_change(RouteNetlinkMessage::DelLink(message), 0, &command) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            other => other.map_err(|e| failed(&command, e)),
        }
    }

    /// The IPv4 addresses on link `name` (`ip -4 addr show dev NAME`).
    pub fn addresses(&mut self, name: &str) -> Result<Vec<Cidr>> {
        let index = self.index(name)?;
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        let replies = self.read(
            RouteNetlinkMessage::GetAddress(message),
            NLM_F_DUMP,
            &format!("ip -4 addr show dev {name}"),
        )?;
        let mut found = vec![];
        for reply in replies {
            let RouteNetlinkMessage::NewAddress(a) = reply else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            for attr in &a.attributes {
                if let AddressAttribute::Local(IpAddr::V4(ip)) = attr {
                    found.push(Cidr {
                        addr: *ip,
                        prefix: a.header.prefix_len,
                    });
                }
            }
        }
        Ok(found)
    }

    // ANCHOR: inside
    /// `ip addr add ADDR/LEN dev NAME`.
    pub fn add_address(&mut self, name: &str, address: Cidr) -> Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = address.prefix;
        message.header.index = self.index(name)?;
        let ip = IpAddr::V4(address.addr);
        message.attributes = vec![AddressAttribute::Local(ip), AddressAttribute::Address(ip)];
        self.change(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("ip addr add {address} dev {name}"),
        )
    }

    /// `ip route add default via GATEWAY dev NAME`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, name: &str) -> Result<()> {
        let index = self.index(name)?;
        let mut message = RouteMessage::default();
        message.header = RouteHeader {
            address_family: AddressFamily::Inet,
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..RouteHeader::default()
        };
        message.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet(gateway)),
            RouteAttribute::Oif(index),
        ];
        self.change(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("ip route add default via {gateway} dev {name}"),
        )
    }
    // ANCHOR_END: inside

    /// True when the main table has an IPv4 default route (`ip route show default`).
    pub fn has_default_route(&mut self) -> Result<bool> {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        let replies = self.read(
            RouteNetlinkMessage::GetRoute(message),
            NLM_F_DUMP,
            "ip -4 route show default",
        )?;
        Ok(replies.iter().any(|m| {
            matches!(m, RouteNetlinkMessage::NewRoute(r)
                if r.header.destination_prefix_length == 0
                    && r.header.table == RouteHeader::RT_TABLE_MAIN)
        }))
    }

    /// Every IPv4 route of every table, as (destination, device name):
    /// `ip -4 route show table all`.
    pub fn routes(&mut self) -> Result<Vec<(Cidr, String)>> {
        let names: Vec<(u32, String)> = self
            .links()?
            .into_iter()
            .map(|l| (l.index, l.name))
            .collect();
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        let replies = self.read(
            RouteNetlinkMessage::GetRoute(message),
            NLM_F_DUMP,
            "ip -4 route show table all",
        )?;
        let mut found = vec![];
        for reply in replies {
            let RouteNetlinkMessage::NewRoute(r) = reply else {
                continue;
            };
            let mut dst = None;
            let mut dev = String::new();
            for attr in &r.attributes {
                match attr {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = Some(*ip),
                    RouteAttribute::Oif(i) => {
                        dev = names
                            .iter()
                            .find(|(n, _)| n == i)
                            .map(|(_, name)| name.clone())
                            .unwrap_or_default()
                    }
                    _ => {}
                }
            }
            if let Some(addr) = dst {
                found.push((
                    Cidr {
                        addr,
                        prefix: r.header.destination_prefix_length,
                    },
                    dev,
                ));
            }
        }
        Ok(found)
    }
}

/// The message with IFF_UP set (and only that flag changed).
fn up(mut message: LinkMessage) -> LinkMessage {
    message.header.flags = LinkFlags::Up;
    message.header.change_mask = LinkFlags::Up;
    message
}

fn link_of(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: String::new(),
        up: message.header.flags.contains(LinkFlags::Up),
        master: None,
        peer_elsewhere: false,
    };
    for attr in &message.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Controller(m) => link.master = Some(*m),
            LinkAttribute::LinkNetNsId(_) => link.peer_elsewhere = true,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = kind.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    link
}
