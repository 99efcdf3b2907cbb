//! Who a request comes from, for per-client budgets on the routes that answer without
//! credentials. The socket's peer, unless that peer is a reverse proxy the operator listed
//! (`--trusted-proxies`): then the nearest address in `X-Forwarded-For` that is not itself a
//! listed proxy. A client can write anything into that header, so it is read only behind a
//! listed proxy, and from the right (what the proxies appended), never from the left.

use std::net::{IpAddr, SocketAddr};

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let address = canonical(address);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { address, prefix })
    }
}

/// A comma-separated list of networks, as `--trusted-proxies` takes it.
pub fn parse_networks(list: &str) -> Result<Vec<Network>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

fn prefix_matches(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if net[..full] != ip[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[full] & mask == ip[full] & mask
    }
}

/// IPv4 clients reach a dual-stack socket as `::ffff:a.b.c.d`: one client, one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client's address: see the module comment. `forwarded_for` are the request's
/// `X-Forwarded-For` header lines, in order.
pub fn client_address<'a>(
    peer: SocketAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    proxies: &[Network],
) -> IpAddr {
    let mut nearest = canonical(peer.ip());
    if !proxies.iter().any(|p| p.contains(nearest)) {
        return nearest;
    }
    // Hops from the nearest to the farthest: the last header's last entry first.
    let hops = forwarded_for.rev().flat_map(|line| line.rsplit(','));
    for hop in hops {
        let Some(ip) = hop_address(hop) else {
            // Not an address: the hop that wrote it is the client as far as we can tell.
            return nearest;
        };
        nearest = canonical(ip);
        if !proxies.iter().any(|p| p.contains(nearest)) {
            return nearest;
        }
    }
    nearest
}

/// An `X-Forwarded-For` entry's address: `192.0.2.1`, `2001:db8::1`, or with the port some
/// proxies add (`192.0.2.1:4711`, `[2001:db8::1]:4711`, as Azure Application Gateway does).
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

/// The budget key of a client: its IPv4 address, or its IPv6 /64 (one subscriber's network,
/// from which a client can take any address it likes).
pub fn budget_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(values: &'a [&'a str]) -> std::slice::Iter<'a, &'a str> {
        values.iter()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn the_header_counts_only_behind_a_listed_proxy_and_from_the_right() {
        let proxies = parse_networks("10.0.0.0/8, 192.0.2.7").unwrap();
        let forged = headers(&["198.51.100.1"]).copied();
        // Not through a proxy: the header is the client's own words.
        assert_eq!(
            client_address(peer("203.0.113.9"), forged.clone(), &proxies),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Through a listed proxy: the address it appended.
        assert_eq!(
            client_address(
                peer("10.1.2.3"),
                headers(&["198.51.100.1, 203.0.113.9"]).copied(),
                &proxies
            ),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Two listed proxies in a row, the header split over two lines.
        assert_eq!(
            client_address(
                peer("10.1.2.3"),
                headers(&["198.51.100.1, 203.0.113.9", "192.0.2.7"]).copied(),
                &proxies
            ),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // With the port a proxy added, v4 and v6.
        assert_eq!(
            client_address(
                peer("10.1.2.3"),
                headers(&["198.51.100.1:1234, 203.0.113.9:4711"]).copied(),
                &proxies
            ),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(
                peer("10.1.2.3"),
                headers(&["[2001:db8::7]:443"]).copied(),
                &proxies
            ),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(
                peer("10.1.2.3"),
                headers(&["[2001:db8::8]"]).copied(),
                &proxies
            ),
            "2001:db8::8".parse::<IpAddr>().unwrap()
        );
        // Garbage where an address should be: the last proxy that wrote it.
        assert_eq!(
            client_address(peer("10.1.2.3"), headers(&["nonsense"]).copied(), &proxies),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        // No header behind a proxy: the proxy.
        assert_eq!(
            client_address(peer("10.1.2.3"), std::iter::empty(), &proxies),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        // An IPv4 peer seen through a dual-stack socket is still that IPv4 address.
        assert_eq!(
            client_address(
                peer("::ffff:10.1.2.3"),
                headers(&["203.0.113.9"]).copied(),
                &proxies
            ),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn networks_parse_and_match_by_prefix() {
        let n: Network = "2001:db8::/32".parse().unwrap();
        assert!(n.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!n.contains("2001:db9::1".parse().unwrap()));
        let n: Network = "10.0.0.0/9".parse().unwrap();
        assert!(n.contains("10.127.255.255".parse().unwrap()));
        assert!(!n.contains("10.128.0.0".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.test".parse::<Network>().is_err());
        assert_eq!(parse_networks(" ").unwrap(), vec![]);
    }

    #[test]
    fn an_ipv6_client_is_budgeted_by_its_64() {
        assert_eq!(
            budget_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            budget_key("2001:db8:1:2:bbbb::2".parse().unwrap())
        );
        assert_ne!(
            budget_key("2001:db8:1:3::1".parse().unwrap()),
            budget_key("2001:db8:1:2::1".parse().unwrap())
        );
        assert_eq!(budget_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
