//! Hosts and networks the operator allows outgoing connections to (`[egress] allow`), parsed
//! once: the config checks the list with it, the egress policy is built from it.

use std::net::IpAddr;

use ipnet::IpNet;

/// One entry of `[egress] allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// An address or a network (CIDR), truncated to its network.
    Net(IpNet),
    /// A lower-case host name; one starting with "." allows every name under it.
    Host(String),
}

/// A host name as compared: no brackets, no trailing dot, lower case.
pub fn normal_host(h: &str) -> String {
    h.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `[egress] allow`: addresses, networks (CIDR) and host names (`.example.se` for all names
/// under it). Empty entries are skipped; anything else is refused with the entry named.
pub fn parse_allow_list(allow: &[String]) -> Result<Vec<AllowRule>, String> {
    let mut rules = Vec::new();
    for raw in allow.iter().map(|x| x.trim()).filter(|x| !x.is_empty()) {
        if let Ok(net) = raw.parse::<IpNet>() {
            rules.push(AllowRule::Net(net.trunc()));
        } else if let Ok(ip) = normal_host(raw).parse::<IpAddr>() {
            rules.push(AllowRule::Net(IpNet::from(ip)));
        } else {
            let h = normal_host(raw);
            let name = h.trim_start_matches('.');
            let ok = !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !ok {
                return Err(format!(
                    "egress.allow: {raw:?} is not an address, network or host name"
                ));
            }
            rules.push(AllowRule::Host(h));
        }
    }
    Ok(rules)
}
