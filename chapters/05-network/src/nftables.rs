//! Two questions put to nf_tables (the kernel side of `iptables-nft`)
//! through netlink, without a process: the ruleset's generation, and
//! whether a chain exists.
//!
//! The kernel numbers the ruleset of a network namespace: every committed
//! change, by any program (`iptables`, `nft`, firewalld, Docker), adds one
//! to its **generation**, and each `COMMIT` of an `iptables-restore` batch
//! that changes something is one commit. Reading it is one
//! `NFT_MSG_GETGEN` request on a `NETLINK_NETFILTER` socket, what `nft
//! list ruleset` asks first. Two equal readings mean nothing changed in
//! between, which is how [`crate::verified`] spares a container the check
//! of its network's rules. The messages are small enough to write out by
//! hand: a netlink header, nf_tables' four-byte `nfgenmsg`, attributes.

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::{Error, Result};

/// `NFNL_SUBSYS_NFTABLES`: the message type's high byte.
const SUBSYS_NFTABLES: u16 = 10;
const MSG_GETCHAIN: u16 = 4;
const MSG_NEWGEN: u16 = 15;
const MSG_GETGEN: u16 = 16;
/// `NFTA_GEN_ID`, `NFTA_CHAIN_TABLE`, `NFTA_CHAIN_NAME`.
const ATTR_GEN_ID: u16 = 1;
const ATTR_CHAIN_TABLE: u16 = 1;
const ATTR_CHAIN_NAME: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
/// `NFPROTO_IPV4`: the family of iptables' tables (`ip nat`, `ip filter`).
const FAMILY_IPV4: u8 = 2;

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::engine(format!("cannot read nf_tables' {what}: {e}"))
}

/// One request (header, `nfgenmsg`, `attributes`) and its replies up to
/// the acknowledgement: the replies' (type, attributes), or the kernel's errno.
fn request(
    message: u16,
    family: u8,
    attributes: &[(u16, &[u8])],
) -> std::io::Result<Vec<(u16, Vec<u8>)>> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut body = vec![family, 0, 0, 0];
    for (kind, value) in attributes {
        let len = 4 + value.len();
        body.extend((len as u16).to_ne_bytes());
        body.extend(kind.to_ne_bytes());
        body.extend(*value);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut packet = Vec::with_capacity(16 + body.len());
    packet.extend(((16 + body.len()) as u32).to_ne_bytes());
    packet.extend(((SUBSYS_NFTABLES << 8) | message).to_ne_bytes());
    packet.extend((NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    packet.extend(1u32.to_ne_bytes());
    packet.extend(0u32.to_ne_bytes());
    packet.extend(body);
    socket.send(&packet, 0)?;
    let mut replies = vec![];
    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut at = 0;
        while at + 16 <= data.len() {
            let word = |i: usize| u32::from_ne_bytes(data[i..i + 4].try_into().expect("4 bytes"));
            let len = word(at) as usize;
            let kind = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
            if len < 16 || at + len > data.len() {
                return Err(std::io::Error::other("a truncated netlink message"));
            }
            if kind == NLMSG_ERROR {
                let code = word(at + 16) as i32;
                return match code {
                    0 => Ok(replies),
                    _ => Err(std::io::Error::from_raw_os_error(-code)),
                };
            }
            // After the header, the reply's own four-byte nfgenmsg.
            replies.push((kind & 0xff, data[at + 20.min(len)..at + len].to_vec()));
            at += len.next_multiple_of(4);
        }
    }
}

/// The value of attribute `kind` in `attributes`.
fn attribute(attributes: &[u8], kind: u16) -> Option<&[u8]> {
    let mut at = 0;
    while at + 4 <= attributes.len() {
        let len = u16::from_ne_bytes([attributes[at], attributes[at + 1]]) as usize;
        let this = u16::from_ne_bytes([attributes[at + 2], attributes[at + 3]]) & 0x3fff;
        if len < 4 || at + len > attributes.len() {
            return None;
        }
        if this == kind {
            return Some(&attributes[at + 4..at + len]);
        }
        at += len.next_multiple_of(4);
    }
    None
}

// ANCHOR: generation
/// The ruleset's generation in the caller's network namespace: one
/// `NFT_MSG_GETGEN` request.
pub fn generation() -> Result<u32> {
    let replies = request(MSG_GETGEN, 0, &[]).map_err(|e| failed("generation", e))?;
    replies
        .iter()
        .filter(|(kind, _)| *kind == MSG_NEWGEN)
        .find_map(|(_, attrs)| attribute(attrs, ATTR_GEN_ID))
        .and_then(|id| Some(u32::from_be_bytes(id.try_into().ok()?)))
        .ok_or_else(|| failed("generation", "no NFTA_GEN_ID in the answer"))
}
// ANCHOR_END: generation

/// True when chain `chain` of iptables' table `table` (`nat`, `filter`)
/// is in nf_tables: the rules `iptables` shows are the ones the
/// generation counts (the `iptables-nft` backend, not `iptables-legacy`).
pub fn has_chain(table: &str, chain: &str) -> Result<bool> {
    let name = |s: &str| {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        bytes
    };
    let (table, chain) = (name(table), name(chain));
    let attributes = [
        (ATTR_CHAIN_TABLE, &table[..]),
        (ATTR_CHAIN_NAME, &chain[..]),
    ];
    match request(MSG_GETCHAIN, FAMILY_IPV4, &attributes) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(failed("chains", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_found_by_type() {
        // NFTA_GEN_ID = 7 (big-endian), then a 5-byte name padded to 8.
        let mut attrs = vec![8, 0, 1, 0, 0, 0, 0, 7];
        attrs.extend([9, 0, 3, 0, b'i', b'p', b't', b'b', 0, 0, 0, 0]);
        assert_eq!(attribute(&attrs, 1), Some(&[0, 0, 0, 7][..]));
        assert_eq!(attribute(&attrs, 3), Some(&b"iptb\0"[..]));
        assert_eq!(attribute(&attrs, 2), None);
        assert_eq!(attribute(&[200, 0, 1, 0], 1), None);
    }
}
