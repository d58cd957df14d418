use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn kind(s: &str) -> Option<&'static str> {
    classify(ip(s)).map(Blocked::key)
}

#[test]
fn ipv4_internal_ranges_are_refused() {
    for (addr, want) in [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.255", "cgnat"),
        ("169.254.1.1", "link_local"),
        ("169.254.169.254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.99", "documentation"),
        ("198.18.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
    ] {
        assert_eq!(kind(addr), Some(want), "{addr}");
    }
}

#[test]
fn ipv4_public_addresses_pass() {
    for addr in [
        "8.8.8.8",
        "1.1.1.1",
        "172.15.255.255",
        "172.32.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "193.180.1.1",
        "11.0.0.1",
    ] {
        assert_eq!(kind(addr), None, "{addr}");
    }
}

#[test]
fn ipv6_internal_ranges_are_refused() {
    for (addr, want) in [
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link_local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fd00:ec2::254", "metadata"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("fec0::1", "private"),
        ("100::1", "reserved"),
        ("2001::1", "reserved"),
        ("4000::1", "reserved"),
    ] {
        assert_eq!(kind(addr), Some(want), "{addr}");
    }
}

#[test]
fn ipv6_public_addresses_pass() {
    for addr in ["2a00:1450:4001::200e", "2606:4700::1111", "2001:4860::8888"] {
        assert_eq!(kind(addr), None, "{addr}");
    }
}

#[test]
fn ipv4_written_inside_ipv6_is_judged_as_ipv4() {
    for (addr, want) in [
        ("::ffff:127.0.0.1", Some("loopback")),
        ("::ffff:169.254.169.254", Some("metadata")),
        ("::ffff:10.1.2.3", Some("private")),
        ("::ffff:7f00:1", Some("loopback")),
        ("::127.0.0.1", Some("loopback")),
        ("64:ff9b::10.0.0.1", Some("private")),
        ("2002:7f00:0001::1", Some("loopback")),
        ("2002:a9fe:a9fe::1", Some("metadata")),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::8.8.8.8", None),
    ] {
        assert_eq!(kind(addr), want, "{addr}");
    }
}

#[test]
fn the_operator_allows_networks_addresses_and_hosts() {
    let p = Policy::new(&[
        "127.0.0.1".into(),
        "10.20.0.0/16".into(),
        "diariet.intern.example.se".into(),
        ".sms.example.se".into(),
        "[::1]".into(),
    ])
    .unwrap();
    assert!(p.check("x", ip("127.0.0.1")).is_ok());
    assert!(
        p.check("x", ip("::ffff:127.0.0.1")).is_ok(),
        "mapped form too"
    );
    assert!(p.check("x", ip("127.0.0.2")).is_err());
    assert!(p.check("x", ip("10.20.3.4")).is_ok());
    assert!(p.check("x", ip("10.21.0.1")).is_err());
    assert!(p.check("x", ip("::1")).is_ok());
    assert!(
        p.check("Diariet.Intern.Example.se.", ip("10.9.9.9"))
            .is_ok()
    );
    assert!(p.check("gw.sms.example.se", ip("192.168.1.1")).is_ok());
    assert!(p.check("evil-sms.example.se", ip("192.168.1.1")).is_err());
    assert!(p.check("anything", ip("8.8.8.8")).is_ok());
    let r = Policy::default()
        .check("metadata", ip("169.254.169.254"))
        .unwrap_err();
    assert_eq!(r.kind, Blocked::Metadata);
    assert!(r.to_string().starts_with(REFUSED_PREFIX));
    assert!(Policy::new(&["not a host!".into()]).is_err());
    assert!(Policy::new(&["10.0.0.0/33".into()]).is_err());
}

#[test]
fn literal_urls_are_checked_before_any_request() {
    let p = Policy::default();
    for url in [
        "http://127.0.0.1:8080/x",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "https://169.254.169.254/latest/meta-data/",
    ] {
        assert!(
            matches!(p.check_url(url), Err(EgressError::Refused(_))),
            "{url}"
        );
    }
    assert!(p.check_url("https://diariet.example.se/api").is_ok());
    assert!(p.check_url("https://8.8.8.8/").is_ok());
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let p = Policy::default();
    match p.resolve("localhost", 25).await {
        Err(EgressError::Refused(r)) => assert_eq!(r.kind, Blocked::Loopback),
        other => panic!("{other:?}"),
    }
    let allowed = Policy::new(&["localhost".into()]).unwrap();
    assert!(
        allowed
            .resolve("localhost", 25)
            .await
            .unwrap()
            .ip()
            .is_loopback()
    );
}

#[tokio::test]
async fn the_http_client_refuses_before_connecting() {
    let p = Arc::new(Policy::default());
    let c = p.http_client(Duration::from_secs(2)).unwrap();
    assert!(matches!(
        c.post("http://127.0.0.1:9/"),
        Err(EgressError::Refused(_))
    ));
    // A name goes through the resolver, which refuses it; the refusal is found in the error.
    let e = c
        .post("http://localhost:9/")
        .unwrap()
        .send()
        .await
        .unwrap_err();
    let r = refusal_in(&e).expect("the refusal is in the error chain");
    assert_eq!(r.kind, Blocked::Loopback);
}

#[test]
fn truncation_keeps_characters_whole() {
    assert_eq!(truncate("åäö", 3), "å");
    assert_eq!(truncate("abc", 10), "abc");
    assert_eq!(truncate(&"x".repeat(600), MAX_ERROR_BODY).len(), 512);
}

#[test]
fn the_http_client_takes_our_tls_configuration() {
    // reqwest refuses a preconfigured TLS of another rustls than its own (tls::http_client).
    let policy = Arc::new(Policy::default());
    assert!(policy.http_client(Duration::from_secs(1)).is_ok());
}
