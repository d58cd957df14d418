//! The egress policy: every outgoing connection whose address a municipality's administrator
//! sets (records-system targets, SMS gateways, IMAP and SMTP servers of mailboxes and tenants,
//! and the webhooks to come) goes through here, so that a tenant cannot make the installation
//! reach its own internal network (SSRF).
//!
//! - A host name is resolved first, and every address it resolves to is classified
//!   ([`classify`]): loopback, link-local, private (RFC 1918, ULA), CGNAT, multicast,
//!   unspecified, broadcast, documentation, reserved and cloud-metadata addresses are refused.
//!   Only addresses that passed are returned, and the callers connect to exactly those (HTTP:
//!   [`HttpClient`] with a filtering `dns::Resolve`; IMAP/SMTP: the [`Policy::resolve`]
//!   `SocketAddr`), so a DNS rebind between check and connect cannot swap the address.
//! - Addresses written as literals (`http://127.0.0.1/`) never reach a resolver; they are
//!   checked the same way before a request is made ([`HttpClient::request`]), and when a target
//!   is saved ([`Policy::check_literal`]).
//! - Redirects are not followed (`tls::http_client`), and no proxy from the environment is used.
//! - The installation operator may allow hosts and networks in the config file
//!   (`[egress] allow = ["10.20.0.0/16", "diariet.intern.example.se"]`); tenants cannot.
//!
//! The installation's own `[mail]` relay is set by the operator and does not pass through here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::domain::net::{AllowRule, normal_host, parse_allow_list};

/// Why an address is refused. `key()` names its locale text `egress.blocked.<key>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    Cgnat,
    Multicast,
    Broadcast,
    Documentation,
    Reserved,
    Metadata,
}

impl Blocked {
    pub fn key(self) -> &'static str {
        match self {
            Blocked::Unspecified => "unspecified",
            Blocked::Loopback => "loopback",
            Blocked::Private => "private",
            Blocked::LinkLocal => "link_local",
            Blocked::Cgnat => "cgnat",
            Blocked::Multicast => "multicast",
            Blocked::Broadcast => "broadcast",
            Blocked::Documentation => "documentation",
            Blocked::Reserved => "reserved",
            Blocked::Metadata => "metadata",
        }
    }
}

/// How a refusal's text begins (in delivery errors and dead letters), so that what handles a
/// given-up delivery can tell a refusal from other failures.
pub const REFUSED_PREFIX: &str = "egress refused:";

/// A connection the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "egress refused: {host} is {address} ({}), which the installation does not allow ([egress] allow)",
    kind.key()
)]
pub struct Refused {
    pub host: String,
    pub address: IpAddr,
    pub kind: Blocked,
}

/// Why a connection could not be made: refused by the policy, or the name did not resolve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("cannot resolve {host}: {message}")]
    Dns { host: String, message: String },
    #[error("not an address: {0}")]
    BadAddress(String),
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    use Blocked::*;
    let table: &[([u8; 4], u8, Blocked)] = &[
        // Cloud metadata first: they sit inside link-local (AWS, GCP, Azure IMDS, OpenStack),
        // CGNAT (Alibaba) and public space (Azure's wire server).
        ([169, 254, 169, 254], 32, Metadata),
        ([169, 254, 170, 2], 32, Metadata),
        ([100, 100, 100, 200], 32, Metadata),
        ([168, 63, 129, 16], 32, Metadata),
        ([255, 255, 255, 255], 32, Broadcast),
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, Cgnat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Reserved),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    table
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, b)| *b)
}

/// The IPv4 address an IPv6 address carries, where it is only a way of writing one:
/// v4-mapped (`::ffff:a.b.c.d`), v4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4
/// (`2002:AABB:CCDD::/48`).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && u32::from(tail) > 1 {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    use Blocked::*;
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let table: &[([u16; 8], u8, Blocked)] = &[
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, Metadata),
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, Unspecified),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Private),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Reserved),
        ([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, Reserved),
        ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, Reserved),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    if let Some((_, _, b)) = table.iter().find(|(net, len, _)| in_v6(ip, *net, *len)) {
        return Some(*b);
    }
    // Only global unicast (2000::/3) is public.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(Reserved);
    }
    None
}

/// Whether (and why) an address is one the installation's internal network or the cloud could
/// answer on. `None`: a public address.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// What the operator allows beyond public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    nets: Vec<IpNet>,
    /// Lower-case host names; one starting with "." allows every name under it.
    hosts: Vec<String>,
}

impl Policy {
    /// From `[egress] allow`: addresses, networks (CIDR) and host names (`.example.se` for all
    /// names under it).
    pub fn new(allow: &[String]) -> Result<Policy, String> {
        let mut p = Policy::default();
        for rule in parse_allow_list(allow)? {
            match rule {
                AllowRule::Net(net) => p.nets.push(net),
                AllowRule::Host(h) => p.hosts.push(h),
            }
        }
        Ok(p)
    }

    /// The installation's policy (checked when the settings were loaded).
    pub fn from_settings(s: &crate::config::Settings) -> Policy {
        Policy::new(&s.egress.allow).unwrap_or_default()
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.iter().any(|h| match h.strip_prefix('.') {
            Some(suffix) => host == suffix || host.ends_with(h.as_str()),
            None => *h == host,
        })
    }

    fn ip_allowed(&self, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.nets
            .iter()
            .any(|n| n.contains(&ip) || v4.is_some_and(|v| n.contains(&v)))
    }

    /// Whether `host` may be reached at `ip`.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match classify(ip) {
            Some(kind) if !self.host_allowed(host) && !self.ip_allowed(ip) => Err(Refused {
                host: normal_host(host),
                address: ip,
                kind,
            }),
            _ => Ok(()),
        }
    }

    /// A host written as an address is checked at once (a name is checked when it is resolved,
    /// at delivery).
    pub fn check_literal(&self, host: &str) -> Result<(), Refused> {
        match normal_host(host).parse::<IpAddr>() {
            Ok(ip) => self.check(host, ip),
            Err(_) => Ok(()),
        }
    }

    /// The host of an http(s) address, checked if it is written as an address.
    pub fn check_url(&self, url: &str) -> Result<(), EgressError> {
        let u = url::Url::parse(url).map_err(|e| EgressError::BadAddress(e.to_string()))?;
        match u.host() {
            Some(url::Host::Ipv4(ip)) => Ok(self.check(&ip.to_string(), IpAddr::V4(ip))?),
            Some(url::Host::Ipv6(ip)) => Ok(self.check(&ip.to_string(), IpAddr::V6(ip))?),
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(EgressError::BadAddress(url.to_string())),
        }
    }

    /// Resolve `host` and keep the addresses that may be reached. None left: the first refusal.
    pub async fn resolve_all(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let name = normal_host(host);
        let found: Vec<SocketAddr> = match name.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|e| EgressError::Dns {
                    host: name.clone(),
                    message: e.to_string(),
                })?
                .collect(),
        };
        let mut first_refusal = None;
        let mut ok = vec![];
        for a in found {
            match self.check(&name, a.ip()) {
                Ok(()) => ok.push(a),
                Err(r) => {
                    first_refusal.get_or_insert(r);
                }
            }
        }
        match (ok.is_empty(), first_refusal) {
            (false, _) => Ok(ok),
            (true, Some(r)) => Err(r.into()),
            (true, None) => Err(EgressError::Dns {
                host: name,
                message: "no addresses".into(),
            }),
        }
    }

    /// The one checked address to connect to (IMAP, SMTP).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, EgressError> {
        Ok(self.resolve_all(host, port).await?[0])
    }

    /// An HTTP client whose every connection passes this policy.
    pub fn http_client(self: &Arc<Self>, timeout: Duration) -> reqwest::Result<HttpClient> {
        Ok(HttpClient {
            client: crate::tls::http_client(timeout, Arc::new(Guard(self.clone())))?,
            policy: self.clone(),
        })
    }
}

/// The DNS resolver of [`HttpClient`]: resolves, then keeps only allowed addresses.
struct Guard(Arc<Policy>);

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve_all(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for addresses a tenant set: literal addresses are checked before the request,
/// names when they are resolved, and no redirect is followed.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl HttpClient {
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, EgressError> {
        self.policy.check_url(url)?;
        Ok(self.client.request(method, url))
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, EgressError> {
        self.request(reqwest::Method::POST, url)
    }
}

/// The policy's refusal inside an error chain (e.g. a `reqwest::Error` from the resolver).
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(r) = x.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        if let Some(EgressError::Refused(r)) = x.downcast_ref::<EgressError>() {
            return Some(r.clone());
        }
        cur = x.source();
    }
    None
}

/// At most `max` bytes of `text` (cut at a character boundary), for storing what a remote
/// system answered.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How much of a remote system's error answer is kept (history, last error).
pub const MAX_ERROR_BODY: usize = 512;

#[cfg(test)]
mod tests;
