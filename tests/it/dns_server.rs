//! A real authoritative DNS server for tests, on `127.0.0.1:<ephemeral>` over UDP and TCP (the
//! same port), serving records the test changes while it runs.
//!
//! hickory-server's `Server` does the sockets and the wire format; the answers come from a small
//! handler over a map of names to records:
//! - a name outside the server's zones is REFUSED;
//! - a name of a zone with no record (and no name below it) is NXDOMAIN, one with records of
//!   other types only (or only names below it) is NOERROR with no answer; both carry the zone's
//!   SOA in the authority section (TTL and minimum [`TTL`] s, so a resolver that caches negative
//!   answers would keep them);
//! - CNAMEs are followed within the zone of the name asked (the chain is in the answer); a CNAME
//!   to another zone ends the answer, the resolver asks for its target itself;
//! - answers go out without EDNS, so a UDP answer is at most 512 bytes: a longer one is cut with
//!   the TC bit set and the resolver asks again over TCP.
//!
//! Dropping the [`DnsServer`] stops it (its tasks are aborted). It runs on the tokio runtime that
//! started it, so a test can point a gateway it starts at [`DnsServer::addr`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, CNAME, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

/// The TTL of every record, and the SOA minimum (the negative-answer TTL).
pub const TTL: u32 = 300;

/// How many CNAMEs one answer follows at most (a loop ends there).
const MAX_CHAIN: usize = 8;

/// The running server. Dropping it stops it.
pub struct DnsServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    _server: Server<Handler>,
}

struct State {
    /// The zone apexes served.
    zones: Vec<LowerName>,
    /// Every record by its owner name (the zones' SOAs at their apexes).
    records: Mutex<HashMap<LowerName, Vec<Record>>>,
    servfail: AtomicBool,
    silent: AtomicBool,
    udp_queries: AtomicUsize,
    tcp_queries: AtomicUsize,
}

impl DnsServer {
    /// A server for the zone `test.`.
    pub async fn start() -> DnsServer {
        DnsServer::start_with_zones(&["test."]).await
    }

    /// A server authoritative for these zones (e.g. `["test.", "example."]`).
    pub async fn start_with_zones(zones: &[&str]) -> DnsServer {
        let mut records = HashMap::new();
        let mut apexes = Vec::new();
        for zone in zones {
            let apex = name(zone);
            let soa = SOA::new(
                Name::from_str("ns.test.").unwrap(),
                Name::from_str("hostmaster.test.").unwrap(),
                1,
                3600,
                600,
                86400,
                TTL,
            );
            records.insert(
                LowerName::from(&apex),
                vec![Record::from_rdata(apex.clone(), TTL, RData::SOA(soa))],
            );
            apexes.push(LowerName::from(&apex));
        }
        let state = Arc::new(State {
            zones: apexes,
            records: Mutex::new(records),
            servfail: AtomicBool::new(false),
            silent: AtomicBool::new(false),
            udp_queries: AtomicUsize::new(0),
            tcp_queries: AtomicUsize::new(0),
        });
        let (udp, tcp) = bind_same_port().await;
        let addr = udp.local_addr().unwrap();
        let mut server = Server::new(Handler(state.clone()));
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        DnsServer {
            addr,
            state,
            _server: server,
        }
    }

    /// Replaces the TXT records of `name` (and a CNAME there): one record per item, each a list
    /// of character-strings. An empty list removes them.
    pub fn set_txt(&self, name: &str, records: &[&[&str]]) {
        let owner = self::name(name);
        let new = records.iter().map(|strings| {
            let txt = TXT::new(strings.iter().map(|s| s.to_string()).collect());
            Record::from_rdata(owner.clone(), TTL, RData::TXT(txt))
        });
        self.replace(&owner, &[RecordType::TXT, RecordType::CNAME], new);
    }

    /// Sets `name`'s A record (replacing its A records and a CNAME there).
    pub fn set_a(&self, name: &str, ip: Ipv4Addr) {
        let owner = self::name(name);
        let record = Record::from_rdata(owner.clone(), TTL, RData::A(A(ip)));
        self.replace(&owner, &[RecordType::A, RecordType::CNAME], [record]);
    }

    /// Makes `name` a CNAME to `target` (replacing all its records).
    pub fn set_cname(&self, name: &str, target: &str) {
        let owner = self::name(name);
        let record =
            Record::from_rdata(owner.clone(), TTL, RData::CNAME(CNAME(self::name(target))));
        self.state
            .records
            .lock()
            .unwrap()
            .insert(LowerName::from(&owner), vec![record]);
    }

    /// Removes all records of `name`.
    pub fn remove(&self, name: &str) {
        self.state
            .records
            .lock()
            .unwrap()
            .remove(&LowerName::from(self::name(name)));
    }

    /// While on, every query is answered SERVFAIL.
    pub fn fail_with_servfail(&self, on: bool) {
        self.state.servfail.store(on, Ordering::SeqCst);
    }

    /// While on, every query is dropped unanswered.
    pub fn stay_silent(&self, on: bool) {
        self.state.silent.store(on, Ordering::SeqCst);
    }

    /// Queries received over UDP so far (answered or not).
    pub fn udp_queries(&self) -> usize {
        self.state.udp_queries.load(Ordering::SeqCst)
    }

    /// Queries received over TCP so far (answered or not).
    pub fn tcp_queries(&self) -> usize {
        self.state.tcp_queries.load(Ordering::SeqCst)
    }

    fn replace(&self, owner: &Name, types: &[RecordType], new: impl IntoIterator<Item = Record>) {
        let mut records = self.state.records.lock().unwrap();
        let at = records.entry(LowerName::from(owner)).or_default();
        at.retain(|r| !types.contains(&r.record_type()));
        at.extend(new);
        if at.is_empty() {
            records.remove(&LowerName::from(owner));
        }
    }
}

/// A fully qualified name from a test's spelling (the final dot optional).
fn name(name: &str) -> Name {
    let mut name = Name::from_ascii(name).unwrap_or_else(|e| panic!("{name:?}: {e}"));
    name.set_fqdn(true);
    name
}

/// A UDP socket on an ephemeral port of 127.0.0.1 and a TCP listener on the same port.
async fn bind_same_port() -> (UdpSocket, TcpListener) {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        match TcpListener::bind(udp.local_addr().unwrap()).await {
            Ok(tcp) => return (udp, tcp),
            Err(e) => last_error = Some(e),
        }
    }
    panic!("no port free for both UDP and TCP: {last_error:?}");
}

/// What the zone data answers to one question.
struct Answer {
    code: ResponseCode,
    answers: Vec<Record>,
    soa: Option<Record>,
}

impl State {
    fn zone_of(&self, name: &LowerName) -> Option<&LowerName> {
        self.zones
            .iter()
            .filter(|zone| zone.zone_of(name))
            .max_by_key(|zone| zone.num_labels())
    }

    fn answer(&self, asked: &Name, qtype: RecordType) -> Answer {
        let Some(zone) = self.zone_of(&LowerName::from(asked)).cloned() else {
            return Answer {
                code: ResponseCode::Refused,
                answers: Vec::new(),
                soa: None,
            };
        };
        let records = self.records.lock().unwrap();
        let soa = records
            .get(&zone)
            .and_then(|at| at.iter().find(|r| r.record_type() == RecordType::SOA))
            .cloned();
        let negative = |code, answers| Answer {
            code,
            answers,
            soa: soa.clone(),
        };
        let mut answers = Vec::new();
        let mut current = asked.clone();
        for _ in 0..MAX_CHAIN {
            let lower = LowerName::from(&current);
            let at = records.get(&lower).map(Vec::as_slice).unwrap_or_default();
            let matching: Vec<Record> = at
                .iter()
                .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                .map(|r| with_owner(r, &current))
                .collect();
            if !matching.is_empty() {
                answers.extend(matching);
                return Answer {
                    code: ResponseCode::NoError,
                    answers,
                    soa: None,
                };
            }
            let cname = at.iter().find_map(|r| match &r.data {
                RData::CNAME(CNAME(target)) => Some((r, target.clone())),
                _ => None,
            });
            if let Some((record, target)) = cname {
                answers.push(with_owner(record, &current));
                if self.zone_of(&LowerName::from(&target)) != Some(&zone) {
                    // Another zone's name: the resolver asks for it.
                    return Answer {
                        code: ResponseCode::NoError,
                        answers,
                        soa: None,
                    };
                }
                current = target;
                continue;
            }
            let exists = !at.is_empty() || records.keys().any(|owner| lower.zone_of(owner));
            let code = match exists {
                true => ResponseCode::NoError,
                false => ResponseCode::NXDomain,
            };
            return negative(code, answers);
        }
        // A CNAME loop (or a chain too long): what was followed, no more.
        negative(ResponseCode::NoError, answers)
    }
}

/// `record` with the owner name spelt as asked (a resolver compares names with the question).
fn with_owner(record: &Record, owner: &Name) -> Record {
    let mut record = record.clone();
    record.name = owner.clone();
    record
}

struct Handler(Arc<State>);

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let state = &self.0;
        match request.protocol() {
            Protocol::Tcp => state.tcp_queries.fetch_add(1, Ordering::SeqCst),
            _ => state.udp_queries.fetch_add(1, Ordering::SeqCst),
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let not_sent = |metadata: Metadata| {
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        };
        if state.silent.load(Ordering::SeqCst) {
            return not_sent(metadata);
        }
        let builder = MessageResponseBuilder::from_message_request(request);
        let query = match request.request_info() {
            Ok(info) if !state.servfail.load(Ordering::SeqCst) => info.query.original().clone(),
            Ok(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::ServFail);
                return response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| not_sent(metadata));
            }
            Err(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::FormErr);
                return response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| not_sent(metadata));
            }
        };
        let answer = state.answer(query.name(), query.query_type());
        metadata.authoritative = answer.code != ResponseCode::Refused;
        metadata.response_code = answer.code;
        let response = builder.build(metadata, answer.answers.iter(), [], answer.soa.iter(), []);
        response_handle
            .send_response(response)
            .await
            .unwrap_or_else(|_| not_sent(metadata))
    }
}
