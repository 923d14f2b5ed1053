//! What only a shared cache does, with the real nginx in front of the real
//! binary, started from `proxy/room.conf` as `scripts/shared-cache.sh` and
//! `scripts/room.sh` start it: `Cache-Status` from both caches in order,
//! `public`/`private`/`s-maxage`, a stampede collapsed into one request, a
//! stored copy served while the app is down, a 304 from the app refreshing
//! the proxy's copy, a client's own validators reaching the app (and the
//! app's 304 to them never stored as the proxy's copy), and the witness
//! that tells the app what the proxy received.
//!
//! The lab's resource (`/http-cache/resource/<name>?cc=...`) answers with
//! the Cache-Control it is asked for, and `/requests` says what reached the
//! app, so each test reads the app's own count beside the proxy's answers.

use std::time::Duration;

use crate::proxy::{Proxy, WITNESS_KEY};
use crate::server::{send_raw, Reply, Server};

/// The app and nginx in front of it, with the witness key given to both.
struct Front {
    app: Server,
    proxy: Proxy,
    _dir: tempfile::TempDir,
}

impl Front {
    /// `None` (and a `skipped:` line) where nginx is missing, except under
    /// CI, which installs it.
    fn start() -> Option<Self> {
        if let Err(reason) = Proxy::available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the shared cache tests must run under CI: {reason}"
            );
            eprintln!("skipped: {reason}");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let app = Server::start(
            &dir.path().join("cache"),
            &[("ROCKET_PROXY_WITNESS_KEY", WITNESS_KEY)],
        );
        let proxy = Proxy::start(app.port, 1_024, "10s");
        Some(Self {
            app,
            proxy,
            _dir: dir,
        })
    }

    /// GET `path` through nginx, with extra request headers.
    fn through_proxy(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        get(self.proxy.port, path, headers)
    }

    /// GET `path` from the app itself, past nginx.
    fn direct(&self, path: &str) -> Reply {
        get(self.app.port, path, &[])
    }

    /// What reached the app for the lab's resource `name`: its own count.
    fn reached_app(&self, name: &str) -> serde_json::Value {
        let reply = self.direct(&format!("/http-cache/resource/{name}/requests"));
        assert_eq!(reply.status, 200, "{}", reply.body_text());
        serde_json::from_slice(&reply.body).expect("/requests answers JSON")
    }
}

/// The learner cookie a first page gives a browser (`name=value`).
fn learner_cookie(page: &Reply) -> String {
    page.headers("Set-Cookie")
        .into_iter()
        .find(|cookie| cookie.starts_with("cachelab_learner="))
        .and_then(|cookie| cookie.split(';').next())
        .unwrap_or_else(|| panic!("a learner cookie: {}", page.head))
        .to_owned()
}

/// The name of the learner's own lab resource that the exercise page
/// links, the one starting with `prefix`.
fn linked_resource(page: &str, prefix: &str) -> String {
    let link = format!("/http-cache/resource/{prefix}");
    let at = page
        .find(&link)
        .unwrap_or_else(|| panic!("no {link}… on the page"));
    page[at + "/http-cache/resource/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut raw = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    send_raw(port, raw.as_bytes()).unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

/// The lab resource `name` under the Cache-Control `policy`, with `extra`
/// query parameters (`&etag=1`, `&slow=...`).
fn resource(name: &str, policy: &str, extra: &str) -> String {
    // Percent-encoded whole, spaces too, so no query parser can read it
    // otherwise.
    let policy: String = policy
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("/http-cache/resource/{name}?cc={policy}{extra}")
}

/// `Cache-Status` as one Structured Field List (RFC 8941), parsed by `sfv`
/// from every field line joined in order, as a recipient joins them: each
/// member's cache name and its parameters.
fn cache_status(reply: &Reply) -> Vec<(String, Vec<(String, String)>)> {
    use sfv::{BareItem, List, ListEntry};
    let written = |item: &BareItem| match item {
        BareItem::Boolean(value) => format!("?{}", u8::from(*value)),
        BareItem::Token(token) => token.as_str().to_owned(),
        BareItem::String(string) => string.as_str().to_owned(),
        BareItem::Integer(integer) => i64::from(*integer).to_string(),
        other => format!("{other:?}"),
    };
    let joined = reply.headers("Cache-Status").join(", ");
    let list = sfv::Parser::new(&joined)
        .parse::<List>()
        .unwrap_or_else(|error| panic!("{joined:?} is not a Structured Field List: {error}"));
    list.iter()
        .map(|entry| match entry {
            ListEntry::Item(item) => (
                written(&item.bare_item),
                item.params
                    .iter()
                    .map(|(key, value)| (key.as_str().to_owned(), written(value)))
                    .collect(),
            ),
            ListEntry::InnerList(_) => panic!("{joined:?}: an inner list is no cache"),
        })
        .collect()
}

/// nginx's own member, which must be the last (the cache nearest the client).
fn nginx_member(reply: &Reply) -> Vec<(String, String)> {
    let members = cache_status(reply);
    let (name, params) = members
        .last()
        .unwrap_or_else(|| panic!("no Cache-Status in {}", reply.head));
    assert_eq!(name, "nginx", "the last member is nginx's: {members:?}");
    params.clone()
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Longer than a one-second freshness lifetime, counted by nginx in whole
/// seconds: a copy stored with s-maxage=1 is stale after this.
const PAST_ONE_SECOND_OF_FRESHNESS: Duration = Duration::from_millis(2_100);

#[test]
fn through_the_proxy_a_memory_hit_carries_the_apps_member_then_nginxs() {
    let Some(front) = Front::start() else { return };
    front.through_proxy("/factorial/20", &[]);
    let hit = front.through_proxy("/factorial/20", &[]);
    assert_eq!(hit.status, 200);
    assert_eq!(
        cache_status(&hit),
        [
            ("cachelab-memory".to_owned(), params(&[("hit", "?1")])),
            ("nginx".to_owned(), params(&[("fwd", "miss")])),
        ],
        "the app's member first, nginx's after it: {}",
        hit.head
    );
    // The app's own headers come through as they were.
    assert_eq!(hit.header("X-Cache"), Some("HIT"));
    assert_eq!(hit.header("Cache-Control"), Some("no-cache"));
    assert!(hit.header("Server-Timing").is_some(), "{}", hit.head);
    // no-cache: nginx keeps nothing it would have to ask about before each
    // use, so a third request is the app's again.
    let stats_before = front.direct("/stats").body_text();
    front.through_proxy("/factorial/20", &[]);
    let stats_after = front.direct("/stats").body_text();
    assert_ne!(
        stats_before, stats_after,
        "a no-cache answer is asked of the app every time"
    );
}

#[test]
fn a_proxy_hit_says_nginx_hit_and_never_reaches_the_app() {
    let Some(front) = Front::start() else { return };
    let path = resource("public-copy", "public, max-age=60", "");
    let first = front.through_proxy(&path, &[]);
    assert_eq!(first.status, 200, "{}", first.body_text());
    assert_eq!(nginx_member(&first), params(&[("fwd", "miss")]));
    for _ in 0..3 {
        let again = front.through_proxy(&path, &[]);
        assert_eq!(again.status, 200);
        assert_eq!(nginx_member(&again), params(&[("hit", "?1")]));
        assert_eq!(again.body, first.body, "the stored copy");
        assert_eq!(
            again.header("X-Served-By-App"),
            Some("1"),
            "the copy of the app's first answer, its number included"
        );
        // nginx says nothing of the copy's age (RFC 9111 §5.1 asks a cache
        // for Age), so a browser counts max-age from the moment of the hit.
        assert_eq!(again.header("Age"), None, "{}", again.head);
    }
    assert_eq!(front.reached_app("public-copy")["requests"], 1);
}

#[test]
fn a_request_that_says_no_cache_is_forwarded_for_the_requests_sake() {
    let Some(front) = Front::start() else { return };
    let path = resource("asked-again", "public, max-age=60", "");
    front.through_proxy(&path, &[]);
    let asked = front.through_proxy(&path, &[("Cache-Control", "no-cache")]);
    assert_eq!(asked.status, 200, "{}", asked.body_text());
    assert_eq!(
        nginx_member(&asked),
        params(&[("fwd", "request")]),
        "RFC 9211 §2.2: the request's own directive, not the cache's configuration"
    );
    assert_eq!(asked.header("X-Served-By-App"), Some("2"));
    assert_eq!(front.reached_app("asked-again")["requests"], 2);
}

#[test]
fn private_is_never_stored_by_the_proxy() {
    let Some(front) = Front::start() else { return };
    let path = resource("private-copy", "private, max-age=60", "");
    for _ in 0..3 {
        let reply = front.through_proxy(&path, &[]);
        assert_eq!(reply.status, 200);
        assert_eq!(nginx_member(&reply), params(&[("fwd", "miss")]));
    }
    assert_eq!(
        front.reached_app("private-copy")["requests"],
        3,
        "every request reaches the app"
    );
}

#[test]
fn s_maxage_is_for_the_proxy_while_max_age_0_keeps_browsers_asking() {
    let Some(front) = Front::start() else { return };
    let path = resource("shared-only", "max-age=0, s-maxage=60", "&etag=1");
    let first = front.through_proxy(&path, &[]);
    assert_eq!(first.status, 200, "{}", first.body_text());
    // What a browser is told is the app's header, unchanged: keep no fresh
    // copy (max-age=0), so it asks again every time.
    assert_eq!(
        first.header("Cache-Control"),
        Some("max-age=0, s-maxage=60")
    );
    let etag = first.header("ETag").expect("a validator").to_owned();
    // The browser asks again, with its validator; the proxy's copy is fresh
    // for 60 s, so nginx answers both kinds of request itself.
    let revalidated = front.through_proxy(&path, &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304, "{}", revalidated.head);
    assert_eq!(nginx_member(&revalidated), params(&[("hit", "?1")]));
    let again = front.through_proxy(&path, &[]);
    assert_eq!(nginx_member(&again), params(&[("hit", "?1")]));
    assert_eq!(front.reached_app("shared-only")["requests"], 1);
}

#[test]
fn a_stampede_on_a_cold_resource_reaches_the_app_once() {
    let Some(front) = Front::start() else { return };
    const CLIENTS: usize = 10;
    let path = resource("stampede", "public, max-age=60", "&slow=1000");
    let port = front.proxy.port;
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|_| scope.spawn(|| get(port, &path, &[])))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a client thread"))
            .collect()
    });
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body_text());
        assert_eq!(reply.body, replies[0].body);
    }
    assert_eq!(
        front.reached_app("stampede")["requests"],
        1,
        "{CLIENTS} clients at once, one request to the app"
    );
    let forwarded = replies
        .iter()
        .filter(|reply| nginx_member(reply).iter().any(|(key, _)| key == "fwd"))
        .count();
    assert_eq!(forwarded, 1, "one went forward, the others waited for it");
}

#[test]
fn with_the_app_down_the_proxy_serves_a_stale_copy_only_where_stale_if_error_allows() {
    let Some(front) = Front::start() else { return };
    let allowed = resource("stale-allowed", "s-maxage=1, stale-if-error=600", "");
    let not_allowed = resource("stale-refused", "s-maxage=1", "");
    let stored = front.through_proxy(&allowed, &[]);
    assert_eq!(stored.status, 200, "{}", stored.body_text());
    assert_eq!(front.through_proxy(&not_allowed, &[]).status, 200);

    let Front { app, proxy, _dir } = front;
    app.kill_hard();
    std::thread::sleep(PAST_ONE_SECOND_OF_FRESHNESS);

    let stale = get(proxy.port, &allowed, &[]);
    assert_eq!(stale.status, 200, "{}", stale.head);
    assert_eq!(stale.body, stored.body, "the stored copy");
    let member = nginx_member(&stale);
    assert!(
        member.contains(&("hit".to_owned(), "?1".to_owned())),
        "{member:?}"
    );
    let detail = member
        .iter()
        .find(|(key, _)| key == "detail")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert!(
        detail.contains("stale-if-error"),
        "the detail says why a stale copy was sent: {member:?}"
    );

    let refused = get(proxy.port, &not_allowed, &[]);
    assert_eq!(
        refused.status, 502,
        "without stale-if-error the proxy does not answer for the app: {}",
        refused.head
    );
}

#[test]
fn a_304_from_the_app_refreshes_the_proxys_copy() {
    let Some(front) = Front::start() else { return };
    let path = resource("revalidated", "s-maxage=1", "&etag=1");
    let first = front.through_proxy(&path, &[]);
    assert_eq!(first.status, 200, "{}", first.body_text());
    std::thread::sleep(PAST_ONE_SECOND_OF_FRESHNESS);

    let refreshed = front.through_proxy(&path, &[]);
    assert_eq!(refreshed.status, 200, "the proxy answers from its copy");
    assert_eq!(refreshed.body, first.body);
    assert_eq!(
        nginx_member(&refreshed),
        params(&[("fwd", "stale"), ("fwd-status", "304")])
    );
    let counted = front.reached_app("revalidated");
    assert_eq!(
        (
            &counted["requests"],
            &counted["full"],
            &counted["not_modified"]
        ),
        (&2.into(), &1.into(), &1.into()),
        "nginx asked with If-None-Match and the app answered 304: {counted}"
    );

    // nginx takes the lifetime from the 304 and nothing else: the copy's
    // header fields stay the first answer's, the app's number included.
    assert_eq!(refreshed.header("X-Served-By-App"), Some("1"));

    let next = front.through_proxy(&path, &[]);
    assert_eq!(nginx_member(&next), params(&[("hit", "?1")]));
    assert_eq!(front.reached_app("revalidated")["requests"], 2);
}

/// nginx stores nothing `no-cache`, so a browser's "still this one?" about
/// such an answer is the app's to answer: its `If-None-Match` must reach
/// the app, and the app's 304 come back.
#[test]
fn a_clients_validator_for_a_no_cache_answer_reaches_the_app_and_its_304_comes_back() {
    let Some(front) = Front::start() else { return };
    let path = resource("asked-each-time", "no-cache", "&etag=1");
    let first = front.through_proxy(&path, &[]);
    assert_eq!(first.status, 200, "{}", first.body_text());
    let etag = first.header("ETag").expect("a validator").to_owned();

    let revalidated = front.through_proxy(&path, &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304, "{}", revalidated.head);
    assert!(revalidated.body.is_empty());
    assert_eq!(nginx_member(&revalidated), params(&[("fwd", "miss")]));
    assert_eq!(
        revalidated.header("X-Served-By-App"),
        Some("2"),
        "the app's own 304"
    );
    let counted = front.reached_app("asked-each-time");
    assert_eq!(
        (
            &counted["requests"],
            &counted["full"],
            &counted["not_modified"]
        ),
        (&2.into(), &1.into(), &1.into()),
        "the second request reached the app with the client's If-None-Match: {counted}"
    );

    // A validator the app does not know gets the whole answer.
    let changed = front.through_proxy(&path, &[("If-None-Match", "\"sha256-0\"")]);
    assert_eq!(changed.status, 200, "{}", changed.head);
    assert_eq!(changed.body, first.body);
}

#[test]
fn a_memory_hit_revalidated_through_the_proxy_is_the_apps_304_with_both_members() {
    let Some(front) = Front::start() else { return };
    let first = front.through_proxy("/factorial/20", &[]);
    assert_eq!(first.status, 200, "{}", first.body_text());
    let etag = first.header("ETag").expect("a validator").to_owned();
    let memory_304s = |front: &Front| {
        let stats: serde_json::Value =
            serde_json::from_slice(&front.direct("/stats").body).expect("/stats answers JSON");
        stats["memory"]["not_modified"].clone()
    };
    assert_eq!(memory_304s(&front), 0);

    let revalidated = front.through_proxy("/factorial/20", &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304, "{}", revalidated.head);
    assert!(revalidated.body.is_empty());
    assert_eq!(
        revalidated.header("X-Cache"),
        Some("HIT"),
        "{}",
        revalidated.head
    );
    assert_eq!(
        cache_status(&revalidated),
        [
            ("cachelab-memory".to_owned(), params(&[("hit", "?1")])),
            ("nginx".to_owned(), params(&[("fwd", "miss")])),
        ],
        "the app's member first, nginx's after it: {}",
        revalidated.head
    );
    assert_eq!(memory_304s(&front), 1, "the app sent the 304 itself");
}

/// A 304 from the app answers the one client that asked with its own
/// validator. Stored as the proxy's copy it would answer everyone after
/// with an empty 304, even requests that asked for the whole answer.
#[test]
fn the_apps_304_to_a_clients_validator_is_never_the_proxys_copy() {
    let Some(front) = Front::start() else { return };
    let path = resource("held-elsewhere", "s-maxage=60", "&etag=1");
    // The client's copy came from elsewhere (here: the app itself).
    let held = front.direct(&path);
    let etag = held.header("ETag").expect("a validator").to_owned();

    let revalidated = front.through_proxy(&path, &[("If-None-Match", &etag)]);
    assert_eq!(revalidated.status, 304, "{}", revalidated.head);
    assert_eq!(nginx_member(&revalidated), params(&[("fwd", "miss")]));

    let whole = front.through_proxy(&path, &[]);
    assert_eq!(whole.status, 200, "{}", whole.head);
    assert!(!whole.body.is_empty());
    assert_eq!(nginx_member(&whole), params(&[("fwd", "miss")]));
    // That whole answer is the copy: the next request is nginx's.
    let next = front.through_proxy(&path, &[]);
    assert_eq!(nginx_member(&next), params(&[("hit", "?1")]));
    assert_eq!(next.body, whole.body);
    assert_eq!(front.reached_app("held-elsewhere")["requests"], 3);
}

#[test]
fn the_witness_tells_the_app_what_the_proxy_answered_without_it() {
    let Some(front) = Front::start() else { return };
    // A learner, as a browser becomes one: the cookie a first page gives.
    let page = front.through_proxy("/exercises", &[("Accept", "text/html")]);
    let cookie = learner_cookie(&page);

    let path = resource("witnessed", "public, max-age=60", "");
    for _ in 0..5 {
        let reply = front.through_proxy(&path, &[("Cookie", &cookie)]);
        assert_eq!(reply.status, 200, "{}", reply.body_text());
    }
    let report_path = "/http-cache/resource/witnessed/proxy";
    // nginx sends its report alongside the answer, so the last one may
    // still be on its way: wait for it (each is a few milliseconds).
    let mut report = serde_json::Value::Null;
    for _ in 0..100 {
        let reply = get(front.app.port, report_path, &[("Cookie", &cookie)]);
        assert_eq!(reply.status, 200, "{}", reply.body_text());
        assert_eq!(reply.header("Cache-Control"), Some("no-store"));
        report = serde_json::from_slice(&reply.body).expect("JSON");
        if report["received_by_proxy"] == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(report["witness"], true);
    assert_eq!(report["received_by_proxy"], 5, "{report}");
    assert_eq!(report["received_by_proxy_from_you"], 5, "{report}");
    // Beside the app's own count: one reached it, four were the proxy's.
    assert_eq!(front.reached_app("witnessed")["requests"], 1);
    assert_eq!(report["reached_app_through_proxy"], 1, "{report}");
    assert_eq!(report["answered_by_proxy"], 4, "{report}");

    // Another learner (no cookie) has sent none of them.
    let anyone = front.direct(report_path);
    let anyone: serde_json::Value = serde_json::from_slice(&anyone.body).expect("JSON");
    assert_eq!(anyone["received_by_proxy"], 5);
    assert!(
        anyone.get("received_by_proxy_from_you").is_none(),
        "{anyone}"
    );

    // Nobody but nginx can report: not a client of the app without the
    // key, nor one that sends the key's header through nginx (which drops it).
    let witness_path = "/http-cache/witness/resource/witnessed";
    assert_eq!(front.direct(witness_path).status, 403);
    assert_eq!(
        front
            .through_proxy(witness_path, &[("X-Proxy-Witness-Key", WITNESS_KEY)])
            .status,
        403
    );
    let after: serde_json::Value =
        serde_json::from_slice(&front.direct(report_path).body).expect("JSON");
    assert_eq!(after["received_by_proxy"], 5, "{after}");
}

/// curl's way of saying who you are, `?learner=name:key`, reaches the
/// witness too: nginx passes the original query on with each report.
#[test]
fn the_witness_knows_a_learner_named_in_the_query() {
    let Some(front) = Front::start() else { return };
    let page = front.through_proxy("/exercises", &[("Accept", "text/html")]);
    let credential = page
        .headers("Set-Cookie")
        .into_iter()
        .find_map(|cookie| cookie.strip_prefix("cachelab_learner="))
        .and_then(|cookie| cookie.split(';').next())
        .unwrap_or_else(|| panic!("a learner cookie: {}", page.head))
        .to_owned();

    let path = resource(
        "named-in-query",
        "public, max-age=60",
        &format!("&learner={credential}"),
    );
    for _ in 0..3 {
        let reply = front.through_proxy(&path, &[]);
        assert_eq!(reply.status, 200, "{}", reply.body_text());
    }
    let cookie = format!("cachelab_learner={credential}");
    let mut report = serde_json::Value::Null;
    for _ in 0..100 {
        let reply = get(
            front.app.port,
            "/http-cache/resource/named-in-query/proxy",
            &[("Cookie", &cookie)],
        );
        report = serde_json::from_slice(&reply.body).expect("JSON");
        if report["received_by_proxy_from_you"] == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(report["received_by_proxy"], 3, "{report}");
    assert_eq!(report["received_by_proxy_from_you"], 3, "{report}");
}

#[test]
fn an_app_started_without_a_witness_key_has_no_witness() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Server::start(&dir.path().join("cache"), &[]);
    let reply = get(
        app.port,
        "/http-cache/witness/resource/anything",
        &[("X-Proxy-Witness-Key", WITNESS_KEY)],
    );
    assert_eq!(reply.status, 404, "{}", reply.body_text());
    let report = get(app.port, "/http-cache/resource/anything/proxy", &[]);
    let report: serde_json::Value = serde_json::from_slice(&report.body).expect("JSON");
    assert_eq!(report["witness"], false);
    assert_eq!(report["received_by_proxy"], 0);
}

/// The workshop's shared-cache exercise, done as its page says with curl,
/// through the real nginx: the learner's own resource, three requests, one
/// reaching the app. The app learns of the other two only from nginx's
/// witness reports, and ticks the exercise.
#[test]
fn the_shared_cache_exercise_ticks_from_what_nginx_answered_by_itself() {
    let Some(front) = Front::start() else { return };
    let page = front.through_proxy("/exercises", &[("Accept", "text/html")]);
    let cookie = learner_cookie(&page);
    let page = page.body_text();
    assert!(page.contains("You opened this page through the shared cache"));
    let name = linked_resource(&page, "shared-");

    let path = resource(&name, "public, max-age=0, s-maxage=60", "");
    let statuses: Vec<String> = (0..3)
        .map(|_| {
            let reply = front.through_proxy(&path, &[("Cookie", &cookie)]);
            assert_eq!(reply.status, 200, "{}", reply.body_text());
            nginx_member(&reply)
                .first()
                .map(|(key, _)| key.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(statuses, ["fwd", "hit", "hit"], "nginx's members");
    assert_eq!(front.reached_app(&name)["requests"], 1);

    // The app waits a moment before taking a report's request as answered
    // by the proxy (the request itself could still be on its way); once it
    // has, the learner's own look at their progress shows the tick.
    let done = |front: &Front| {
        let mine = get(front.app.port, "/exercises/me", &[("Cookie", &cookie)]);
        let mine: serde_json::Value = serde_json::from_slice(&mine.body).expect("JSON");
        mine["exercises"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|exercise| exercise["slug"] == "shared-cache")
            })
            .map(|exercise| exercise["done"] == true)
            .unwrap_or(false)
    };
    assert!(!done(&front), "not before the proxy's reports have aged");
    std::thread::sleep(Duration::from_millis(1_200));
    let mut ticked = false;
    for _ in 0..100 {
        ticked = done(&front);
        if ticked {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ticked, "the shared-cache exercise is ticked");
}

/// The revalidation exercise done with curl through the real nginx: the
/// learner's own `If-None-Match` reaches the app, whose 304 ticks it.
#[test]
fn the_revalidation_exercise_ticks_through_nginx() {
    let Some(front) = Front::start() else { return };
    let page = front.through_proxy("/exercises", &[("Accept", "text/html")]);
    let cookie = learner_cookie(&page);
    let page = page.body_text();
    let name = linked_resource(&page, "ask-");

    let path = resource(&name, "no-cache", "");
    let whole = front.through_proxy(&path, &[("Cookie", &cookie)]);
    assert_eq!(whole.status, 200, "{}", whole.body_text());
    let etag = whole.header("ETag").expect("an ETag").to_owned();
    let again = front.through_proxy(&path, &[("Cookie", &cookie), ("If-None-Match", &etag)]);
    assert_eq!(again.status, 304, "{}", again.head);

    let mine = get(front.app.port, "/exercises/me", &[("Cookie", &cookie)]);
    let mine: serde_json::Value = serde_json::from_slice(&mine.body).expect("JSON");
    let revalidation = mine["exercises"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|exercise| exercise["slug"] == "revalidation")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(revalidation["done"], true, "{mine}");
}
