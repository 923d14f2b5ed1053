//! Every `Cache-Status` value written here, parsed back with `sfv`.

use sfv::{BareItem, List, ListEntry, Parser, Version};

use super::*;

/// A parsed bare item in plain Rust values, so expectations read easily.
#[derive(Debug, PartialEq)]
enum Plain {
    Token(&'static str),
    String(&'static str),
    Integer(i64),
    Boolean(bool),
}

/// Reads `field_value` back with sfv's parser, held to RFC 8941 (the
/// version RFC 9211 builds on), and checks each member's name and
/// parameters, in order.
fn assert_members(field_value: &str, expected: &[(Plain, &[(&str, Plain)])]) {
    let list: List = Parser::new(field_value)
        .with_version(Version::Rfc8941)
        .parse()
        .unwrap_or_else(|error| panic!("{field_value:?} is not an RFC 8941 List: {error}"));
    assert_eq!(list.len(), expected.len(), "members of {field_value:?}");
    for (member, (expected_name, expected_parameters)) in list.iter().zip(expected) {
        let ListEntry::Item(item) = member else {
            panic!("{field_value:?} has an inner list");
        };
        assert_bare_item(&item.bare_item, expected_name, field_value);
        let keys: Vec<&str> = item.params.keys().map(|key| key.as_str()).collect();
        let expected_keys: Vec<&str> = expected_parameters.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, expected_keys, "parameters of {field_value:?}");
        for ((_, value), (_, expected_value)) in item.params.iter().zip(*expected_parameters) {
            assert_bare_item(value, expected_value, field_value);
        }
    }
}

fn assert_bare_item(actual: &BareItem, expected: &Plain, field_value: &str) {
    let matches = match (actual, expected) {
        (BareItem::Token(token), Plain::Token(expected)) => token.as_str() == *expected,
        (BareItem::String(string), Plain::String(expected)) => string.as_str() == *expected,
        (BareItem::Integer(integer), Plain::Integer(expected)) => i64::from(*integer) == *expected,
        (BareItem::Boolean(boolean), Plain::Boolean(expected)) => boolean == expected,
        _ => false,
    };
    assert!(matches, "{actual:?} is not {expected:?} in {field_value:?}");
}

fn token_name(name: &str) -> CacheName {
    CacheName::token(name).expect("a token")
}

#[test]
fn a_hit_is_written_as_a_bare_key() {
    let entry = CacheStatusEntry::hit(CacheName::memory_tier());

    assert_eq!(entry.to_string(), "cachelab-memory;hit");
    assert_members(
        &entry.to_string(),
        &[(
            Plain::Token("cachelab-memory"),
            &[("hit", Plain::Boolean(true))],
        )],
    );
}

#[test]
fn every_forward_reason_is_its_rfc_token() {
    let reasons = [
        (ForwardReason::Bypass, "bypass"),
        (ForwardReason::Method, "method"),
        (ForwardReason::UriMiss, "uri-miss"),
        (ForwardReason::VaryMiss, "vary-miss"),
        (ForwardReason::Miss, "miss"),
        (ForwardReason::Request, "request"),
        (ForwardReason::Stale, "stale"),
        (ForwardReason::Partial, "partial"),
    ];
    for (reason, token) in reasons {
        let entry = CacheStatusEntry::forwarded(CacheName::disk_tier(), Forward::because(reason));
        let field_value = entry.to_string();

        assert_eq!(field_value, format!("cachelab-disk;fwd={token}"));
        assert_members(
            &field_value,
            &[(
                Plain::Token("cachelab-disk"),
                &[("fwd", Plain::Token(token))],
            )],
        );
    }
}

#[test]
fn a_forward_carries_its_status_and_what_became_of_the_response() {
    let forward = Forward::because(ForwardReason::Stale)
        .next_hop_status(304)
        .stored(true)
        .collapsed(false);
    let entry = CacheStatusEntry::forwarded(CacheName::disk_tier(), forward)
        .ttl_secs(60)
        .expect("a small ttl");
    let field_value = entry.to_string();

    assert_eq!(
        field_value,
        "cachelab-disk;fwd=stale;fwd-status=304;ttl=60;stored;collapsed=?0"
    );
    assert_members(
        &field_value,
        &[(
            Plain::Token("cachelab-disk"),
            &[
                ("fwd", Plain::Token("stale")),
                ("fwd-status", Plain::Integer(304)),
                ("ttl", Plain::Integer(60)),
                ("stored", Plain::Boolean(true)),
                ("collapsed", Plain::Boolean(false)),
            ],
        )],
    );
}

#[test]
fn false_booleans_are_written_and_true_ones_are_bare() {
    let entry = CacheStatusEntry::forwarded(
        CacheName::memory_tier(),
        Forward::because(ForwardReason::UriMiss)
            .stored(false)
            .collapsed(true),
    );

    assert_eq!(
        entry.to_string(),
        "cachelab-memory;fwd=uri-miss;stored=?0;collapsed"
    );
    assert_members(
        &entry.to_string(),
        &[(
            Plain::Token("cachelab-memory"),
            &[
                ("fwd", Plain::Token("uri-miss")),
                ("stored", Plain::Boolean(false)),
                ("collapsed", Plain::Boolean(true)),
            ],
        )],
    );
}

#[test]
fn ttl_may_be_negative_within_fifteen_digits() {
    for ttl_secs in [0, 376, -412, 999_999_999_999_999, -999_999_999_999_999] {
        let entry = CacheStatusEntry::hit(CacheName::memory_tier())
            .ttl_secs(ttl_secs)
            .expect("within range");

        assert_eq!(
            entry.to_string(),
            format!("cachelab-memory;hit;ttl={ttl_secs}")
        );
        assert_members(
            &entry.to_string(),
            &[(
                Plain::Token("cachelab-memory"),
                &[
                    ("hit", Plain::Boolean(true)),
                    ("ttl", Plain::Integer(ttl_secs)),
                ],
            )],
        );
    }
    for ttl_secs in [
        1_000_000_000_000_000,
        -1_000_000_000_000_000,
        i64::MIN,
        i64::MAX,
    ] {
        assert_eq!(
            CacheStatusEntry::hit(CacheName::memory_tier()).ttl_secs(ttl_secs),
            Err(CacheStatusError::IntegerOutOfRange { value: ttl_secs })
        );
    }
}

#[test]
fn strings_are_quoted_and_escaped() {
    let key = r#"GET /data?q="a\b""#;
    let entry = CacheStatusEntry::hit(CacheName::disk_tier())
        .key(key)
        .expect("printable ASCII")
        .detail(Detail::string("read from the page cache").expect("printable ASCII"));
    let field_value = entry.to_string();

    assert_eq!(
        field_value,
        r#"cachelab-disk;hit;key="GET /data?q=\"a\\b\"";detail="read from the page cache""#
    );
    assert_members(
        &field_value,
        &[(
            Plain::Token("cachelab-disk"),
            &[
                ("hit", Plain::Boolean(true)),
                ("key", Plain::String(r#"GET /data?q="a\b""#)),
                ("detail", Plain::String("read from the page cache")),
            ],
        )],
    );
}

#[test]
fn a_name_or_detail_can_be_a_token_or_a_string() {
    let entry = CacheStatusEntry::hit(CacheName::string("CDN Company Here").expect("ASCII"))
        .detail(Detail::token("page-cache").expect("a token"));

    assert_eq!(
        entry.to_string(),
        r#""CDN Company Here";hit;detail=page-cache"#
    );
    assert_members(
        &entry.to_string(),
        &[(
            Plain::String("CDN Company Here"),
            &[
                ("hit", Plain::Boolean(true)),
                ("detail", Plain::Token("page-cache")),
            ],
        )],
    );
    assert_eq!(
        CacheStatusEntry::hit(token_name("cache-3.example.com:8080/x")).to_string(),
        "cache-3.example.com:8080/x;hit"
    );
}

#[test]
fn values_that_are_not_tokens_or_strings_are_refused() {
    for not_a_token in [
        "",
        "1cache",
        "-cache",
        "two words",
        "a,b",
        "a;b",
        "\"q\"",
        "caf\u{e9}",
    ] {
        assert_eq!(
            CacheName::token(not_a_token),
            Err(CacheStatusError::NotAToken {
                value: not_a_token.to_owned()
            }),
            "{not_a_token:?}"
        );
        assert!(Detail::token(not_a_token).is_err(), "{not_a_token:?}");
    }
    for not_a_string in ["caf\u{e9}", "line\nbreak", "tab\there", "del\u{7f}"] {
        let refused = Err(CacheStatusError::NotAString {
            value: not_a_string.to_owned(),
        });
        assert_eq!(CacheName::string(not_a_string), refused, "{not_a_string:?}");
        assert!(Detail::string(not_a_string).is_err(), "{not_a_string:?}");
        assert_eq!(
            CacheStatusEntry::hit(CacheName::memory_tier())
                .key(not_a_string)
                .map(|_| ()),
            refused.map(|_: CacheName| ()),
            "{not_a_string:?}"
        );
    }
}

#[test]
fn members_keep_their_order_nearest_the_origin_first() {
    // RFC 9211 §3's two-layer example.
    let mut status = CacheStatus::new();
    status.push(
        CacheStatusEntry::hit(token_name("OriginCache"))
            .ttl_secs(1100)
            .expect("a small ttl"),
    );
    status.push(
        CacheStatusEntry::hit(CacheName::string("CDN Company Here").expect("ASCII"))
            .ttl_secs(545)
            .expect("a small ttl"),
    );
    let field_value = status.to_field_value().expect("two members");

    assert_eq!(
        field_value,
        r#"OriginCache;hit;ttl=1100, "CDN Company Here";hit;ttl=545"#
    );
    assert_members(
        &field_value,
        &[
            (
                Plain::Token("OriginCache"),
                &[("hit", Plain::Boolean(true)), ("ttl", Plain::Integer(1100))],
            ),
            (
                Plain::String("CDN Company Here"),
                &[("hit", Plain::Boolean(true)), ("ttl", Plain::Integer(545))],
            ),
        ],
    );
    assert_eq!(status.entries().len(), 2);
}

#[test]
fn three_caches_of_different_kinds_in_one_field() {
    // RFC 9211 §3's three-layer example; parameters come in the RFC's
    // section order, which a parser does not care about.
    let status: CacheStatus = [
        CacheStatusEntry::hit(token_name("ReverseProxyCache")),
        CacheStatusEntry::forwarded(
            token_name("ForwardProxyCache"),
            Forward::because(ForwardReason::UriMiss)
                .collapsed(true)
                .stored(true),
        ),
        CacheStatusEntry::forwarded(
            token_name("BrowserCache"),
            Forward::because(ForwardReason::UriMiss),
        ),
    ]
    .into_iter()
    .collect();
    let field_value = status.to_field_value().expect("three members");

    assert_eq!(
        field_value,
        "ReverseProxyCache;hit, ForwardProxyCache;fwd=uri-miss;stored;collapsed, \
         BrowserCache;fwd=uri-miss"
    );
    assert_members(
        &field_value,
        &[
            (
                Plain::Token("ReverseProxyCache"),
                &[("hit", Plain::Boolean(true))],
            ),
            (
                Plain::Token("ForwardProxyCache"),
                &[
                    ("fwd", Plain::Token("uri-miss")),
                    ("stored", Plain::Boolean(true)),
                    ("collapsed", Plain::Boolean(true)),
                ],
            ),
            (
                Plain::Token("BrowserCache"),
                &[("fwd", Plain::Token("uri-miss"))],
            ),
        ],
    );
}

#[test]
fn a_member_on_its_own_is_a_one_member_field() {
    let entry = CacheStatusEntry::forwarded(
        CacheName::memory_tier(),
        Forward::because(ForwardReason::Miss).stored(true),
    )
    .key("factorial:20")
    .expect("printable ASCII");

    assert_eq!(
        CacheStatus::from_iter([entry.clone()]).to_field_value(),
        Some(entry.to_string())
    );
}

#[test]
fn no_members_means_no_field() {
    assert_eq!(CacheStatus::new().to_field_value(), None);
}
