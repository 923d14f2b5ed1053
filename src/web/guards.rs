//! Request guards: who may change state (this app's own pages, and clients
//! that are not browsers, such as curl; not another web site), and who sent
//! a request (see `who`).
//!
//! A page on any site can make a visitor's browser submit a form to any
//! address it can reach, cookies included, and a `text/plain` POST needs no
//! CORS preflight: with the app serving a room on `0.0.0.0`, one open tab
//! could clear the caches or rename a learner. Browsers say where such a
//! request comes from: `Sec-Fetch-Site` (Fetch Metadata, sent by every
//! current browser) and `Origin` (sent with every POST). So every request
//! that changes something takes [`SameOriginChange`], which refuses a request
//! whose browser says it came from elsewhere, and lets through requests that
//! carry neither header: curl and scripts, which no other site can steer.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

mod who;

pub(crate) use who::learner_cookie;
pub use who::{
    BrowserLearner, Instructor, Learner, WantsHtml, INSTRUCTOR_HEADER, LEARNER_COOKIE,
    LEARNER_HEADER,
};

/// Proof that a state-changing request came from this app's own pages or
/// from a client that is not a browser.
pub struct SameOriginChange;

/// Whether a request came through a proxy in front of the app (nginx sets
/// `X-Forwarded-For`; other proxies say `Via`): the shared cache's
/// exercise can be done only through it.
pub struct ThroughProxy(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ThroughProxy {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = request.headers();
        Outcome::Success(ThroughProxy(
            headers.contains("X-Forwarded-For") || headers.contains("Via"),
        ))
    }
}

/// Why a request was refused, kept for the 403 catcher to word.
#[derive(Debug, Clone, Default)]
pub struct CrossSiteRefusal(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOriginChange {
    type Error = String;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match cross_site_reason(request) {
            None => Outcome::Success(SameOriginChange),
            Some(reason) => {
                request.local_cache(|| CrossSiteRefusal(Some(reason.clone())));
                Outcome::Error((Status::Forbidden, reason))
            }
        }
    }
}

/// Why `request` counts as coming from another site, if it does.
fn cross_site_reason(request: &Request<'_>) -> Option<String> {
    let headers = request.headers();
    if let Some(site) = headers.get_one("Sec-Fetch-Site") {
        // "none": typed into the address bar or opened from a bookmark.
        // "same-site" is refused too: another app on this host, on any
        // port, is the same site but not this app.
        return match site {
            "same-origin" | "none" => None,
            other => Some(format!(
                "this request came from another web page (Sec-Fetch-Site: {})",
                truncated(other)
            )),
        };
    }
    let origin = headers.get_one("Origin")?;
    let host = headers.get_one("Host").unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if origin_host.is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host)) {
        None
    } else {
        Some(format!(
            "this request came from another web page (Origin: {})",
            truncated(origin)
        ))
    }
}

/// A header value short enough to repeat in a message.
fn truncated(value: &str) -> String {
    const SHOWN: usize = 80;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}
