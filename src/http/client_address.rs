//! The address of the client behind a request, for per-address limits and the access log.
//!
//! Behind the shipped load balancer every TCP peer is the balancer itself, so the peer alone would
//! put the whole population in one rate-limit bucket. The client address comes from
//! `X-Forwarded-For` — but only when the peer is one of `server.trusted_proxies`, and then it is
//! the rightmost hop that is not itself a trusted proxy: hops to its left were written by the
//! client and prove nothing. From any other peer the header is ignored, so forging it changes
//! nothing.

use std::net::IpAddr;

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;

use crate::config::ProxyNetwork;

/// The client's address, as the middleware worked it out (kept in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

fn trusted(ip: IpAddr, proxies: &[ProxyNetwork]) -> bool {
    proxies.iter().any(|p| p.contains(ip))
}

/// One hop of `X-Forwarded-For`: a bare address, as proxies write it (a port or brackets are
/// tolerated).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// The client address for a request from `peer` carrying `headers`.
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    proxies: &[ProxyNetwork],
) -> ClientAddress {
    let Some(peer) = peer.map(|p| p.to_canonical()) else {
        return ClientAddress(None);
    };
    if !trusted(peer, proxies) {
        return ClientAddress(Some(peer));
    }
    // Every X-Forwarded-For line, in order, is one list (RFC 7230 §3.2.2).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted(ip, proxies) => client = ip,
            Some(ip) => return ClientAddress(Some(ip)),
            // Garbage in a hop a trusted proxy passed on: the nearest trusted hop is all we know.
            None => break,
        }
    }
    ClientAddress(Some(client))
}

/// Works out the request's client address and keeps it in its extensions.
pub fn attach(req: &ServiceRequest, proxies: &[ProxyNetwork]) -> ClientAddress {
    let address = resolve(req.peer_addr().map(|a| a.ip()), req.headers(), proxies);
    req.extensions_mut().insert(address);
    address
}

/// The address [`attach`] found for this request.
pub fn of(req: &actix_web::HttpRequest) -> ClientAddress {
    req.extensions()
        .get::<ClientAddress>()
        .copied()
        .unwrap_or_else(|| ClientAddress(req.peer_addr().map(|a| a.ip().to_canonical())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn proxies(list: &[&str]) -> Vec<ProxyNetwork> {
        list.iter()
            .map(|p| ProxyNetwork::parse(p).unwrap())
            .collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let p = proxies(&["10.0.0.0/8"]);
        let r = resolve(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &p);
        assert_eq!(r, ClientAddress(ip("203.0.113.9")));
        // No trusted proxies (the default): the header never counts.
        let r = resolve(ip("10.0.0.2"), &headers(&["198.51.100.1"]), &[]);
        assert_eq!(r, ClientAddress(ip("10.0.0.2")));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client wrote a forged hop first; the balancer appended the real address.
        let h = headers(&["6.6.6.6, 198.51.100.1"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &h, &p),
            ClientAddress(ip("198.51.100.1"))
        );
        // Two proxies in a row, across two header lines.
        let h = headers(&["6.6.6.6, 198.51.100.1", "192.0.2.7"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &h, &p),
            ClientAddress(ip("198.51.100.1"))
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), &headers(&[]), &p),
            ClientAddress(ip("10.0.0.2"))
        );
        // Garbage passed on by a trusted proxy: stop at the nearest trusted hop.
        let h = headers(&["198.51.100.1, not-an-ip"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &h, &p),
            ClientAddress(ip("10.0.0.2"))
        );
        // Ports, brackets and IPv4-mapped IPv6 are understood.
        let h = headers(&["[2001:db8::1]:443"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &h, &p),
            ClientAddress(ip("2001:db8::1"))
        );
        let h = headers(&["198.51.100.1:5000"]);
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), &h, &p),
            ClientAddress(ip("198.51.100.1"))
        );
    }
}
