//! `server.trusted_proxies`: the peers whose forwarded headers are believed, as addresses and CIDR blocks.

use serde::{Deserialize, Deserializer};
use std::net::IpAddr;

/// A set of address blocks (`10.0.0.0/8`, `::1`, `192.168.1.7/32`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<(IpAddr, u8)>,
}

/// A `trusted_proxies` entry that is not an address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block (such as 127.0.0.1, ::1 or 10.0.0.0/8)")]
pub struct BadProxy(pub String);

impl TrustedProxies {
    /// Parse each entry as `ADDRESS` or `ADDRESS/PREFIX`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxy> {
        let blocks = entries
            .iter()
            .map(|e| parse_block(e.as_ref().trim()).ok_or_else(|| BadProxy(e.as_ref().into())))
            .collect::<Result<_, _>>()?;
        Ok(Self { blocks })
    }

    /// Whether no peer is trusted.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `peer` lies in one of the blocks (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.blocks
            .iter()
            .any(|&(net, prefix)| in_block(peer, net, prefix))
    }
}

fn parse_block(entry: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (entry, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let addr = addr.to_canonical();
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    (prefix <= max).then_some((addr, prefix))
}

fn in_block(peer: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (p, n, bits) = match (peer, net) {
        (IpAddr::V4(p), IpAddr::V4(n)) => (u128::from(p.to_bits()), u128::from(n.to_bits()), 32),
        (IpAddr::V6(p), IpAddr::V6(n)) => (p.to_bits(), n.to_bits(), 128),
        _ => return false,
    };
    let host_bits = bits - u32::from(prefix);
    // Shifting by 128 overflows; a /0 block holds every address of its family.
    host_bits >= 128 || (p >> host_bits) == (n >> host_bits)
}

/// Read `trusted_proxies` from a TOML list or from one comma-separated string (as an environment
/// variable gives it: `TESSERA_SERVER_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8`).
pub fn deserialize_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_blocks_match_only_their_members() {
        let t = TrustedProxies::parse(&["127.0.0.1", "10.1.0.0/16", "fd00::/8"]).unwrap();
        assert!(t.contains(ip("127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(t.contains(ip("10.1.255.3")));
        assert!(!t.contains(ip("10.2.0.1")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("fe80::1")));
        // An IPv4 client seen on an IPv6 socket.
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("::1")));
    }

    #[test]
    fn zero_prefixes_hold_a_whole_family() {
        let t = TrustedProxies::parse(&["0.0.0.0/0"]).unwrap();
        assert!(t.contains(ip("203.0.113.9")));
        assert!(!t.contains(ip("2001:db8::1")));
        let t = TrustedProxies::parse(&["::/0"]).unwrap();
        assert!(t.contains(ip("2001:db8::1")));
    }

    #[test]
    fn nothing_is_trusted_by_default_and_bad_entries_are_refused() {
        let none = TrustedProxies::parse::<&str>(&[]).unwrap();
        assert!(none.is_empty() && !none.contains(ip("127.0.0.1")));
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/",
            "1.2.3.4/x",
            "",
        ] {
            assert_eq!(
                TrustedProxies::parse(&[bad]),
                Err(BadProxy(bad.to_string())),
                "{bad}"
            );
        }
    }
}
