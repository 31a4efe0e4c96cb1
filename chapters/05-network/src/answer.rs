//! What the resolver says to one DNS query: an answer from the name table,
//! or "ask the host's resolvers".
//!
//! Pure logic over hickory-proto's messages, with no socket: the resolver
//! process ([`crate::serve`]) reads a datagram, asks [`decide`], and either
//! sends the reply or forwards the query's bytes upstream unchanged.

use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::names::{Table, fold};

/// How long a client may keep an answer: short, so that a name stops
/// resolving soon after its container leaves even behind a cache.
pub const TTL: u32 = 5;

/// What to do with one query.
#[derive(Debug)]
pub enum Decision {
    /// Send this reply.
    Reply(Box<Message>),
    /// Not one of the network's names: ask the host's resolvers.
    Forward,
    /// Not a query at all (a response, or bytes that are no message): say nothing.
    Drop,
}

// ANCHOR: decide
/// The decision for the query in `bytes`, with `table` as the network's names.
pub fn decide(table: &Table, bytes: &[u8]) -> Decision {
    let Ok(request) = Message::from_vec(bytes) else {
        // A header we can read gets FORMERR, as any server answers garbage.
        return match bytes {
            [a, b, ..] => Decision::Reply(Box::new(Message::error_msg(
                u16::from_be_bytes([*a, *b]),
                OpCode::Query,
                ResponseCode::FormErr,
            ))),
            _ => Decision::Drop,
        };
    };
    if request.message_type() != MessageType::Query {
        return Decision::Drop;
    }
    if request.op_code() != OpCode::Query {
        return error(&request, ResponseCode::NotImp);
    }
    let [query] = request.queries() else {
        return error(&request, ResponseCode::FormErr);
    };
    if query.query_class() != DNSClass::IN {
        return Decision::Forward;
    }
    let name = query.name();
    if query.query_type() == RecordType::PTR {
        return match reverse(&name.to_ascii()).and_then(|ip| table.name_of(ip)) {
            Some(target) => match Name::from_ascii(format!("{target}.")) {
                Ok(target) => reply(
                    &request,
                    query,
                    vec![Record::from_rdata(
                        name.clone(),
                        TTL,
                        RData::PTR(PTR(target)),
                    )],
                ),
                Err(_) => Decision::Forward,
            },
            None => Decision::Forward,
        };
    }
    let addresses = table.lookup(&name.to_ascii());
    if addresses.is_empty() {
        return Decision::Forward;
    }
    // A known name: its A records; for any other type (AAAA above all)
    // the name exists but has no such record: NOERROR with no answer, not
    // NXDOMAIN, which would make a client drop the A answer too.
    let answers = match query.query_type() {
        RecordType::A | RecordType::ANY => addresses
            .into_iter()
            .map(|ip| Record::from_rdata(name.clone(), TTL, RData::A(A(ip))))
            .collect(),
        _ => vec![],
    };
    reply(&request, query, answers)
}
// ANCHOR_END: decide

/// A response to `request`, authoritative, with `answers`.
fn reply(request: &Message, query: &Query, answers: Vec<Record>) -> Decision {
    let mut response = response_to(request, ResponseCode::NoError);
    response.set_authoritative(true);
    response.add_query(query.clone());
    response.add_answers(answers);
    Decision::Reply(Box::new(response))
}

fn error(request: &Message, code: ResponseCode) -> Decision {
    let mut response = response_to(request, code);
    response.add_queries(request.queries().iter().cloned());
    Decision::Reply(Box::new(response))
}

fn response_to(request: &Message, code: ResponseCode) -> Message {
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(code);
    response
}

/// A SERVFAIL for the query in `bytes` (no upstream answered), if it is one.
pub fn server_failure(bytes: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let mut response = response_to(&request, ResponseCode::ServFail);
    response.add_queries(request.queries().iter().cloned());
    response.to_vec().ok()
}

/// The reply's bytes for a datagram: a reply larger than the client can
/// take (512 bytes, or its EDNS size) goes out truncated, and the client
/// asks again over TCP. `limit` None is TCP: no limit.
pub fn encode(reply: &Message, request: &[u8], limit: Option<usize>) -> Option<Vec<u8>> {
    let bytes = reply.to_vec().ok()?;
    let Some(limit) = limit else {
        return Some(bytes);
    };
    let max = Message::from_vec(request)
        .map(|r| r.max_payload() as usize)
        .unwrap_or(512)
        .min(limit);
    if bytes.len() <= max {
        Some(bytes)
    } else {
        reply.truncate().to_vec().ok()
    }
}

/// The address `4.3.2.1.in-addr.arpa.` asks about.
fn reverse(name: &str) -> Option<Ipv4Addr> {
    let folded = fold(name);
    let labels = folded.strip_suffix(".in-addr.arpa")?;
    let octets: Vec<u8> = labels
        .split('.')
        .map(|l| l.parse().ok())
        .collect::<Option<_>>()?;
    match octets.as_slice() {
        [d, c, b, a] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Entry;
    use ch04_overlay::owner::Owner;

    fn table() -> Table {
        let mut t = Table::default();
        t.add(Entry {
            ip: Ipv4Addr::new(10, 0, 0, 2),
            names: vec!["web".into(), "0123456789ab".into()],
            owner: Owner {
                pid: 1,
                start: None,
            },
            upstreams: vec![],
        });
        t
    }

    fn query(name: &str, kind: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(0x1234)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m.to_vec().unwrap()
    }

    fn reply(decision: Decision) -> Message {
        match decision {
            Decision::Reply(m) => *m,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn a_known_name_answers_with_its_address() {
        for name in ["web", "web.", "WEB", "0123456789AB."] {
            let m = reply(decide(&table(), &query(name, RecordType::A)));
            assert_eq!(m.id(), 0x1234);
            assert_eq!(m.message_type(), MessageType::Response);
            assert_eq!(m.response_code(), ResponseCode::NoError);
            assert!(m.authoritative() && m.recursion_desired());
            assert_eq!(m.queries().len(), 1);
            let ips: Vec<_> = m
                .answers()
                .iter()
                .map(|r| r.data().as_a().unwrap().0)
                .collect();
            assert_eq!(ips, [Ipv4Addr::new(10, 0, 0, 2)], "{name}");
            assert_eq!(m.answers()[0].ttl(), TTL);
        }
    }

    #[test]
    fn aaaa_of_a_known_name_is_empty_not_nxdomain() {
        let m = reply(decide(&table(), &query("web", RecordType::AAAA)));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.answers().is_empty());
    }

    #[test]
    fn other_names_are_forwarded() {
        for (name, kind) in [
            ("db", RecordType::A),
            ("web.example.com", RecordType::A),
            ("db", RecordType::AAAA),
            ("9.0.0.10.in-addr.arpa", RecordType::PTR),
        ] {
            assert!(
                matches!(decide(&table(), &query(name, kind)), Decision::Forward),
                "{name}"
            );
        }
    }

    #[test]
    fn reverse_lookup_of_a_container() {
        let m = reply(decide(
            &table(),
            &query("2.0.0.10.in-addr.arpa.", RecordType::PTR),
        ));
        let ptr = m.answers()[0].data().as_ptr().unwrap().0.to_ascii();
        assert_eq!(ptr, "web.");
    }

    #[test]
    fn garbage_and_responses() {
        let m = reply(decide(&table(), &[0xab, 0xcd, 0xff]));
        assert_eq!((m.id(), m.response_code()), (0xabcd, ResponseCode::FormErr));
        assert!(matches!(decide(&table(), &[1]), Decision::Drop));
        let answer = reply(decide(&table(), &query("web", RecordType::A)));
        let bytes = answer.to_vec().unwrap();
        assert!(matches!(decide(&table(), &bytes), Decision::Drop));
        let failed = Message::from_vec(&server_failure(&query("db", RecordType::A)).unwrap());
        assert_eq!(failed.unwrap().response_code(), ResponseCode::ServFail);
    }

    #[test]
    fn large_replies_are_truncated_for_udp() {
        let mut t = Table::default();
        for i in 0..60u8 {
            t.add(Entry {
                ip: Ipv4Addr::new(10, 0, 1, i),
                names: vec!["many".into()],
                owner: Owner {
                    pid: 1,
                    start: None,
                },
                upstreams: vec![],
            });
        }
        let q = query("many", RecordType::A);
        let m = reply(decide(&t, &q));
        let udp = Message::from_vec(&encode(&m, &q, Some(512)).unwrap()).unwrap();
        assert!(udp.truncated() && udp.answers().is_empty());
        let tcp = Message::from_vec(&encode(&m, &q, None).unwrap()).unwrap();
        assert_eq!(tcp.answers().len(), 60);
    }
}
