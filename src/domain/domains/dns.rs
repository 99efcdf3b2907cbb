//! TXT lookups for domain checks: a workspace proves it owns an e-mail domain by publishing a TXT
//! record at `_scim-gateway.<domain>`, and the service reads it with [`TxtResolver::txt`].
//!
//! The lookup is bounded and uncached: each query waits [`QUERY_TIMEOUT`] at most and is sent
//! [`TRIES`] times at most, and the whole lookup is cut at [`LOOKUP_BOUND`]; no answer, positive
//! or negative, is kept between calls, so a record published after a check that found none is
//! seen by the next check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::{Time, TokioRuntimeProvider, TokioTime};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// How long one query waits for the server's answer (over UDP, or over TCP after a truncated UDP
/// answer).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a query that got no usable answer (timeout, network error, SERVFAIL, REFUSED)
/// is sent in all. An answer saying the name or the record does not exist is final.
pub const TRIES: usize = 2;

/// The most one lookup takes: it is cut there whatever happens inside it. A silent server takes
/// [`TRIES`] × [`QUERY_TIMEOUT`] (4 s); the rest is room for a truncated answer's TCP retry and
/// for the queries of CNAMEs followed on the way (each a query of its own, with its own tries).
pub const LOOKUP_BOUND: Duration = Duration::from_secs(5);

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The name's TXT records, each one's character-strings joined into one string (RFC 7208
    /// §3.3 style), in answer order. CNAMEs on the way are followed.
    Records(Vec<String>),
    /// The name does not exist or has no TXT record (NXDOMAIN / NODATA): the record is not
    /// published.
    Missing,
    /// The lookup could not say (timeout, SERVFAIL, REFUSED, network error): a reason a human
    /// reads, e.g. "the DNS server did not answer within 2 s" or "the DNS server failed
    /// (SERVFAIL)".
    Unavailable(String),
}

/// Why a [`TxtResolver`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// The system's resolver configuration is missing, unreadable or names no server.
    #[error("the system's DNS configuration (/etc/resolv.conf) could not be used: {0}")]
    SystemConfig(String),
    /// The resolver refused the configuration.
    #[error("the DNS resolver could not be set up: {0}")]
    Build(String),
}

/// Looks up TXT records. Cheap to clone (the resolver is shared); use it within one tokio
/// runtime, as its TCP connections are tasks of the runtime that opened them.
#[derive(Clone)]
pub struct TxtResolver {
    resolver: Arc<TokioResolver>,
}

impl std::fmt::Debug for TxtResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxtResolver").finish_non_exhaustive()
    }
}

impl TxtResolver {
    /// `server`: `Some(addr)` queries only that server (UDP, falling back to TCP when the answer
    /// is truncated); `None` uses the system's name servers (`/etc/resolv.conf`), and fails if
    /// that cannot be read or names none. Either way its search domains and `/etc/hosts` are not
    /// used: the name asked is the name looked up.
    pub fn new(server: Option<SocketAddr>) -> Result<Self, ResolverError> {
        let name_servers = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                vec![NameServerConfig::new(addr.ip(), true, vec![udp, tcp])]
            }
            None => {
                let (config, _options) = hickory_resolver::system_conf::read_system_conf()
                    .map_err(|e| ResolverError::SystemConfig(e.to_string()))?;
                let (_domain, _search, name_servers) = config.into_parts();
                name_servers
            }
        };
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        );
        *builder.options_mut() = options();
        let resolver = builder
            .build()
            .map_err(|e| ResolverError::Build(e.to_string()))?;
        Ok(Self {
            resolver: Arc::new(resolver),
        })
    }

    /// The TXT records of `name` (ASCII, with or without the final dot; always looked up as a
    /// fully qualified name). Returns within [`LOOKUP_BOUND`] (5 s).
    pub async fn txt(&self, name: &str) -> TxtAnswer {
        let name = match fully_qualified(name) {
            Ok(name) => name,
            Err(reason) => return TxtAnswer::Unavailable(reason),
        };
        let resolver = self.resolver.clone();
        let queried = name.clone();
        let lookup = async move { resolver.lookup(queried, RecordType::TXT).await };
        let answer = match TokioTime::timeout(LOOKUP_BOUND, lookup).await {
            Err(_) => TxtAnswer::Unavailable(format!(
                "the DNS lookup did not finish within {} s",
                LOOKUP_BOUND.as_secs()
            )),
            Ok(Ok(lookup)) => {
                let records: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(join_character_strings(&txt.txt_data)),
                        _ => None,
                    })
                    .collect();
                if records.is_empty() {
                    TxtAnswer::Missing
                } else {
                    TxtAnswer::Records(records)
                }
            }
            Ok(Err(error)) => match absent(&error) {
                true => TxtAnswer::Missing,
                false => TxtAnswer::Unavailable(reason(&error)),
            },
        };
        tracing::debug!(%name, ?answer, "TXT lookup");
        answer
    }
}

/// The resolver's options: short bounded queries, no cache, no hosts file, no search list.
fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = QUERY_TIMEOUT;
    // hickory counts the sends after the first one.
    options.attempts = TRIES - 1;
    options.use_hosts_file = ResolveHosts::Never;
    // Nothing outlives the call that asked: an answer's TTL (or a negative answer's SOA minimum)
    // is cut to zero, so the next check asks the server again.
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options
}

/// `name` as a fully qualified DNS name, or why it isn't one.
fn fully_qualified(name: &str) -> Result<Name, String> {
    let mut parsed =
        Name::from_ascii(name).map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// One TXT record's character-strings as one string, joined with no separator (RFC 7208 §3.3);
/// bytes that are not UTF-8 become U+FFFD.
fn join_character_strings(strings: &[Box<[u8]>]) -> String {
    let bytes: Vec<u8> = strings.iter().flat_map(|s| s.iter().copied()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether the error is the server saying there is no such record: NXDOMAIN, or NOERROR with no
/// answer (the name exists with other types only).
fn absent(error: &NetError) -> bool {
    matches!(
        error,
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain | ResponseCode::NoError,
            ..
        }))
    )
}

/// Why the lookup could not say, for a human.
fn reason(error: &NetError) -> String {
    match error {
        NetError::Timeout => format!(
            "the DNS server did not answer within {} s (asked {TRIES} times)",
            QUERY_TIMEOUT.as_secs()
        ),
        NetError::Dns(DnsError::ResponseCode(code))
        | NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: code,
            ..
        })) => match code {
            ResponseCode::ServFail => "the DNS server failed (SERVFAIL)".to_owned(),
            ResponseCode::Refused => "the DNS server refused the query (REFUSED)".to_owned(),
            ResponseCode::FormErr => "the DNS server could not read the query (FORMERR)".to_owned(),
            ResponseCode::NotImp => "the DNS server does not do TXT queries (NOTIMP)".to_owned(),
            other => format!(
                "the DNS server answered with an error ({}: {other})",
                u16::from(*other)
            ),
        },
        NetError::Io(e) => format!("the DNS server could not be reached: {e}"),
        NetError::NoConnections => "no DNS server could be used".to_owned(),
        NetError::Truncated => "the DNS answer was cut short, even over TCP".to_owned(),
        NetError::Proto(e) => format!("the DNS server's answer could not be read: {e}"),
        other => format!("the DNS lookup failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(parts: &[&[u8]]) -> Vec<Box<[u8]>> {
        parts
            .iter()
            .map(|p| p.to_vec().into_boxed_slice())
            .collect()
    }

    #[test]
    fn character_strings_are_joined_without_a_separator() {
        assert_eq!(
            join_character_strings(&strings(&[b"scim-gateway-verification=", b"abc", b""])),
            "scim-gateway-verification=abc"
        );
        assert_eq!(join_character_strings(&[]), "");
    }

    #[test]
    fn bytes_not_utf8_are_replaced() {
        // A UTF-8 sequence split across two character-strings still decodes whole.
        assert_eq!(
            join_character_strings(&strings(&[b"caf\xc3", b"\xa9 \xff!"])),
            "café \u{fffd}!"
        );
    }

    #[test]
    fn names_are_looked_up_fully_qualified() {
        assert_eq!(
            fully_qualified("_scim-gateway.example.com")
                .unwrap()
                .to_string(),
            "_scim-gateway.example.com."
        );
        assert_eq!(
            fully_qualified("_scim-gateway.example.com.")
                .unwrap()
                .to_string(),
            "_scim-gateway.example.com."
        );
        assert!(fully_qualified(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn a_resolver_is_made_outside_a_runtime() {
        // No tokio runtime here: making one neither spawns nor connects.
        assert!(TxtResolver::new(Some(SocketAddr::from(([127, 0, 0, 1], 53)))).is_ok());
    }

    #[test]
    fn reasons_name_the_response_code() {
        let servfail = NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert!(!absent(&servfail));
        assert!(reason(&servfail).contains("SERVFAIL"));
        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        assert!(reason(&refused).contains("REFUSED"));
        assert!(reason(&NetError::Timeout).contains("did not answer within 2 s"));
    }
}
