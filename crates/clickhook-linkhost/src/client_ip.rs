//! Which address a click came from.
//!
//! The socket peer, unless the peer is a proxy the operator trusts (`proxy.trusted`): then
//! the right-most `X-Forwarded-For` hop that is not itself trusted. Hops left of that one
//! were written by the client and are never believed.

use std::net::IpAddr;

use ipnet::IpNet;

/// IPv4 addresses that arrive as v4-mapped IPv6 (`::ffff:1.2.3.4`) become plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn trusted_by(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|n| n.contains(&ip))
}

/// `forwarded_for`: every `X-Forwarded-For` header value, in the order received.
pub fn client_ip<'a>(peer: IpAddr, forwarded_for: impl Iterator<Item = &'a str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted_by(peer, trusted) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = canonical(ip);
        if !trusted_by(client, trusted) {
            break;
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    // "[2001:db8::1]:443" or "1.2.3.4:80"
    hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(client_ip(ip("203.0.113.9"), ["8.8.8.8"].into_iter(), &nets(&["127.0.0.1/32"])), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("127.0.0.1"), ["8.8.8.8"].into_iter(), &[]), ip("127.0.0.1"));
    }

    #[test]
    fn trusted_peer_rightmost_untrusted_hop_wins() {
        let t = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        assert_eq!(client_ip(ip("127.0.0.1"), ["8.8.8.8"].into_iter(), &t), ip("8.8.8.8"));
        // a spoofed left-most hop is ignored
        assert_eq!(client_ip(ip("127.0.0.1"), ["1.1.1.1, 8.8.8.8, 10.0.0.5"].into_iter(), &t), ip("8.8.8.8"));
        // several header lines count as one list
        assert_eq!(client_ip(ip("127.0.0.1"), ["1.1.1.1", "8.8.4.4"].into_iter(), &t), ip("8.8.4.4"));
        // all trusted: the left-most
        assert_eq!(client_ip(ip("127.0.0.1"), ["10.1.1.1, 10.2.2.2"].into_iter(), &t), ip("10.1.1.1"));
        // garbage stops the walk at the last good hop
        assert_eq!(client_ip(ip("127.0.0.1"), ["8.8.8.8, junk, 10.0.0.1"].into_iter(), &t), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), std::iter::empty(), &t), ip("127.0.0.1"));
    }

    #[test]
    fn mapped_and_ported_forms() {
        let t = nets(&["127.0.0.0/8"]);
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), ["[2a02:2770::1]:443"].into_iter(), &t), ip("2a02:2770::1"));
        assert_eq!(client_ip(ip("127.0.0.1"), ["::ffff:8.8.8.8"].into_iter(), &t), ip("8.8.8.8"));
        assert_eq!(canonical(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }
}
