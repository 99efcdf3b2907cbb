//! The TXT lookup of domain checks (`domains::dns::TxtResolver`) against a real DNS server
//! (`dns_server::DnsServer`) on a loopback port, over UDP and TCP.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use scim_gateway::domain::domains::dns::{TxtAnswer, TxtResolver};

use crate::dns_server::DnsServer;

async fn server_and_resolver() -> (DnsServer, TxtResolver) {
    let server = DnsServer::start().await;
    let resolver = TxtResolver::new(Some(server.addr)).expect("resolver for the test server");
    (server, resolver)
}

fn records(values: &[&str]) -> TxtAnswer {
    TxtAnswer::Records(values.iter().map(|v| v.to_string()).collect())
}

#[tokio::test]
async fn a_record_split_in_character_strings_is_joined() {
    let (server, resolver) = server_and_resolver().await;
    server.set_txt(
        "_scim-gateway.acme.test",
        &[&["scim-gateway-verification=", "3f9c", "e21a"]],
    );
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["scim-gateway-verification=3f9ce21a"])
    );
    // The final dot changes nothing.
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test.").await,
        records(&["scim-gateway-verification=3f9ce21a"])
    );
}

#[tokio::test]
async fn every_txt_record_of_the_name_comes_back_in_answer_order() {
    let (server, resolver) = server_and_resolver().await;
    server.set_txt(
        "_scim-gateway.acme.test",
        &[
            &["v=spf1 -all"],
            &["scim-gateway-verification=one"],
            &["two", "-parts"],
        ],
    );
    // Another type at the name is not a TXT record.
    server.set_a("_scim-gateway.acme.test", Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["v=spf1 -all", "scim-gateway-verification=one", "two-parts"])
    );
}

#[tokio::test]
async fn a_cname_chain_is_followed_to_the_txt_records_of_its_end() {
    let (server, resolver) = server_and_resolver().await;
    server.set_cname("_scim-gateway.acme.test", "hop.acme.test");
    server.set_cname("hop.acme.test", "verify.provider.test");
    server.set_txt(
        "verify.provider.test",
        &[&["scim-gateway-verification=", "via-cname"]],
    );
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["scim-gateway-verification=via-cname"])
    );
}

#[tokio::test]
async fn a_cname_into_another_zone_is_followed_by_a_query_of_its_own() {
    let server = DnsServer::start_with_zones(&["test.", "example."]).await;
    let resolver = TxtResolver::new(Some(server.addr)).unwrap();
    server.set_cname("_scim-gateway.acme.test", "verify.example");
    server.set_txt(
        "verify.example",
        &[&["scim-gateway-verification=elsewhere"]],
    );
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["scim-gateway-verification=elsewhere"])
    );
    // The server answered the first question with the CNAME alone: the target was asked for
    // (at least two queries; more if a UDP query was sent again after 333 ms without answer).
    assert!(
        server.udp_queries() >= 2,
        "{} queries",
        server.udp_queries()
    );
}

#[tokio::test]
async fn a_name_without_txt_records_is_missing() {
    let (server, resolver) = server_and_resolver().await;
    // No such name (NXDOMAIN).
    assert_eq!(
        resolver.txt("_scim-gateway.nobody.test").await,
        TxtAnswer::Missing
    );
    // The name has an A record only (NOERROR, no answer).
    server.set_a("_scim-gateway.a-only.test", Ipv4Addr::new(192, 0, 2, 7));
    assert_eq!(
        resolver.txt("_scim-gateway.a-only.test").await,
        TxtAnswer::Missing
    );
    // A name with names below it only (an empty non-terminal: NOERROR, no answer).
    server.set_txt("_scim-gateway.deeper.parent.test", &[&["x"]]);
    assert_eq!(resolver.txt("parent.test").await, TxtAnswer::Missing);
    // A CNAME whose target has an A record only, and one whose target does not exist.
    server.set_cname("_scim-gateway.alias.test", "_scim-gateway.a-only.test");
    assert_eq!(
        resolver.txt("_scim-gateway.alias.test").await,
        TxtAnswer::Missing
    );
    server.set_cname("_scim-gateway.dangling.test", "gone.test");
    assert_eq!(
        resolver.txt("_scim-gateway.dangling.test").await,
        TxtAnswer::Missing
    );
}

#[tokio::test]
async fn servfail_and_refused_are_unavailable_with_their_reason() {
    let (server, resolver) = server_and_resolver().await;
    server.set_txt("_scim-gateway.acme.test", &[&["token"]]);
    server.fail_with_servfail(true);
    match resolver.txt("_scim-gateway.acme.test").await {
        TxtAnswer::Unavailable(reason) => assert!(reason.contains("SERVFAIL"), "{reason}"),
        other => panic!("SERVFAIL gave {other:?}"),
    }
    // The failure was not kept: the next call asks again.
    server.fail_with_servfail(false);
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["token"])
    );
    // A name outside the server's zones is refused.
    match resolver.txt("_scim-gateway.acme.example").await {
        TxtAnswer::Unavailable(reason) => assert!(reason.contains("REFUSED"), "{reason}"),
        other => panic!("REFUSED gave {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_server_is_unavailable_within_a_bound() {
    let (server, resolver) = server_and_resolver().await;
    server.set_txt("_scim-gateway.acme.test", &[&["token"]]);
    server.stay_silent(true);
    let start = Instant::now();
    let answer = resolver.txt("_scim-gateway.acme.test").await;
    let took = start.elapsed();
    match answer {
        TxtAnswer::Unavailable(reason) => assert!(reason.contains("did not answer"), "{reason}"),
        other => panic!("a silent server gave {other:?}"),
    }
    assert!(took < Duration::from_secs(10), "the lookup took {took:?}");
    // It waited for the server (two tries of 2 s), it did not give up at once.
    assert!(took >= Duration::from_secs(3), "the lookup took {took:?}");
    server.stay_silent(false);
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["token"])
    );
}

#[tokio::test]
async fn a_record_published_after_a_missing_answer_is_seen_at_once() {
    let (server, resolver) = server_and_resolver().await;
    // The server's negative answers carry an SOA whose minimum is 300 s: a resolver that kept
    // them would answer `Missing` below.
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        TxtAnswer::Missing
    );
    server.set_txt(
        "_scim-gateway.acme.test",
        &[&["scim-gateway-verification=new"]],
    );
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["scim-gateway-verification=new"])
    );
    // The records' TTL is 300 s too: a changed or removed record is seen at once as well.
    server.set_txt(
        "_scim-gateway.acme.test",
        &[&["scim-gateway-verification=newer"]],
    );
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        records(&["scim-gateway-verification=newer"])
    );
    server.remove("_scim-gateway.acme.test");
    assert_eq!(
        resolver.txt("_scim-gateway.acme.test").await,
        TxtAnswer::Missing
    );
    // Through a CNAME too (the resolver caches the chain's end under the name asked).
    server.set_cname("_scim-gateway.alias.test", "target.test");
    assert_eq!(
        resolver.txt("_scim-gateway.alias.test").await,
        TxtAnswer::Missing
    );
    server.set_txt("target.test", &[&["via-alias"]]);
    assert_eq!(
        resolver.txt("_scim-gateway.alias.test").await,
        records(&["via-alias"])
    );
}

#[tokio::test]
async fn an_answer_over_512_bytes_is_read_whole_over_tcp() {
    let (server, resolver) = server_and_resolver().await;
    let values: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(199))).collect();
    let strings: Vec<[&str; 1]> = values.iter().map(|v| [v.as_str()]).collect();
    let record_list: Vec<&[&str]> = strings.iter().map(|s| &s[..]).collect();
    server.set_txt("_scim-gateway.big.test", &record_list);
    let answer = resolver.txt("_scim-gateway.big.test").await;
    assert_eq!(
        answer,
        TxtAnswer::Records(values.clone()),
        "all ten 200-character records"
    );
    // Asked over UDP first (the answer came back truncated), then over TCP.
    assert!(
        server.udp_queries() >= 1,
        "UDP queries: {}",
        server.udp_queries()
    );
    assert!(
        server.tcp_queries() >= 1,
        "TCP queries: {}",
        server.tcp_queries()
    );
}
