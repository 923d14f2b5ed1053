//! Headers that protect the HTML pages, and only the pages, and one that
//! keeps them fresh.
//!
//! A page gets a Content-Security-Policy that allows exactly what the pages
//! use (their own stylesheet and script, forms posted to this app, no
//! framing by other sites), so that even a learner name or a JSON body that
//! slipped past escaping could not run as script; and a Referrer-Policy
//! that keeps this app's addresses (learner names, searched keys) from
//! being sent to other sites. The JSON answers do not get them: a browser
//! never renders them as a page, and every header costs each cache hit a
//! little time (see "Performance" in the README).
//!
//! Every page shows live state (a HIT badge, the cache's contents, the
//! counters), and a page sent without `Cache-Control` may be reused by a
//! browser for a freshness lifetime it guesses itself (RFC 9111 §4.2.2):
//! asking for 20! a second time could show the first visit's MISS again.
//! `no-cache` makes every new visit reach the app (RFC 9111 §5.2.2.4),
//! while still letting the Back button show the page as it was, which
//! `no-store` would turn into a new request or a "resubmit the form?"
//! question.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header};
use rocket::{Request, Response};

/// What the pages may load and where their forms may go.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Send the origin only to this app's own pages.
pub const REFERRER_POLICY: &str = "same-origin";

/// Reuse a stored page only after asking the app again.
pub const PAGE_CACHE_CONTROL: &str = "no-cache";

/// Adds the page headers to every HTML response.
pub struct PageHeaders;

#[rocket::async_trait]
impl Fairing for PageHeaders {
    fn info(&self) -> Info {
        Info {
            name: "page security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _request: &'r Request<'_>, response: &mut Response<'r>) {
        if response.content_type() == Some(ContentType::HTML) {
            response.set_header(Header::new(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY,
            ));
            response.set_header(Header::new("Referrer-Policy", REFERRER_POLICY));
            response.set_header(Header::new("Cache-Control", PAGE_CACHE_CONTROL));
        }
    }
}
