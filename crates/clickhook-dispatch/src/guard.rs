//! The SSRF guard: webhook URLs may not reach the deployment's own network.
//!
//! A webhook URL comes from an API user, and clickhook's dispatcher usually sits inside a
//! private network. Unless `webhooks.allow_private_targets` is set, an address is refused
//! when it is loopback, private, link-local (cloud metadata lives there), CGNAT, multicast,
//! unspecified, documentation or otherwise reserved, in IPv4, IPv6, and IPv4-mapped IPv6.
//! The check runs on the addresses the resolver returns, at connect time, and the
//! connection uses exactly those addresses: a DNS answer cannot change between check and
//! connect (no rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// True when a webhook may be delivered to `ip` with private targets disallowed.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking 198.18/15
        || o[0] >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 can reach private v4
        || (s[0] == 0x2002) // 6to4 embeds any v4
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4))) // v4-compatible ::a.b.c.d
}

/// A reqwest resolver that drops refused addresses, and fails when none is left.
#[derive(Debug, Clone)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to private or reserved addresses (webhooks.allow_private_targets is false)").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Checks a URL before anything is sent: http(s) only, and an IP-literal host must be
/// public. (Names are checked by [`GuardedResolver`] when they are resolved.)
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    check_url_inner(url, allow_private)
}

/// The check when a webhook is created or edited: [`check_url`], and a host name that
/// resolves only to refused addresses is refused too. A name that does not resolve (now)
/// is accepted: delivery will fail and retry, and the resolver checks again then.
pub async fn check_target(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let u = check_url_inner(url, allow_private)?;
    if allow_private {
        return Ok(u);
    }
    if let Some(url::Host::Domain(d)) = u.host() {
        let port = u.port_or_known_default().unwrap_or(80);
        let lookup = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::net::lookup_host((d, port))).await;
        if let Ok(Ok(addrs)) = lookup {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() && addrs.iter().all(|a| !is_public(a.ip())) {
                return Err(format!("{d} resolves only to private or reserved addresses (webhooks.allow_private_targets is false)"));
            }
        }
    }
    Ok(u)
}

fn check_url_inner(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not allowed: use http or https", u.scheme()));
    }
    let host = u.host().ok_or("the URL has no host")?;
    if allow_private {
        return Ok(u);
    }
    let ip = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    match ip {
        Some(ip) if !is_public(ip) => Err(format!("{ip} is a private or reserved address (webhooks.allow_private_targets is false)")),
        _ => Ok(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses_in_every_form() {
        for a in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
            "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "::ffff:127.0.0.1",
            "::ffff:169.254.169.254", "ff02::1", "64:ff9b::a00:1", "2002:7f00:1::",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a} passed");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(a.parse().unwrap()), "{a} refused");
        }
    }

    #[tokio::test]
    async fn names_that_resolve_to_loopback_are_refused_at_create() {
        let e = check_target("http://localhost:9/x", false).await.unwrap_err();
        assert!(e.contains("private"), "{e}");
        assert!(check_target("http://localhost:9/x", true).await.is_ok());
    }

    #[test]
    fn urls() {
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("http://127.0.0.1:9/x", false).is_err());
        assert!(check_url("http://[::1]/x", false).is_err());
        assert!(check_url("http://[::ffff:127.0.0.1]/x", false).is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("not a url", true).is_err());
    }
}
