//! Headers that protect the HTML pages, and only the pages; and a
//! deliberate `Cache-Control` on every answer whose route did not choose
//! one.
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
//! An answer sent without `Cache-Control` may be reused by a browser or a
//! proxy for a freshness lifetime it guesses itself (RFC 9111 §4.2.2), so
//! none is left to chance: [`cache_control_for`] picks one for every page,
//! redirect, error and workshop answer (the JSON API's routes and the static
//! files set their own, and a route's own choice is never replaced).

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::{Request, Response};

/// What the pages may load and where their forms may go. `'self'` covers
/// the static files at their hashed addresses too: they are on this app's
/// own origin, under `/static/`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Send the origin only to this app's own pages.
pub const REFERRER_POLICY: &str = "same-origin";

/// Pages everyone sees alike (the overview, the memory and disk pages, the
/// dashboard, the timing page): reuse a stored copy only after asking the
/// app again.
///
/// Every page shows live state (a HIT badge, the cache's contents, the
/// counters), and a page sent without `Cache-Control` may be reused for a
/// guessed lifetime (RFC 9111 §4.2.2): asking for 20! a second time could
/// show the first visit's MISS again. `no-cache` makes every new visit
/// reach the app (RFC 9111 §5.2.2.4), while still letting the Back button
/// show the page as it was (history is not a cache that must revalidate,
/// RFC 9111 §6), which `no-store` would turn into a new request, or a
/// "resubmit the form?" question for a page that answered a form.
pub const PAGE_CACHE_CONTROL: &str = "no-cache";

/// Answers that show one learner's own state: the exercise page (their
/// name, their key in every command, their ticks), `/exercises/me`, and
/// any page that sets a cookie (a new browser's name and key, or a flash
/// message meant for that browser alone).
///
/// `private` forbids a shared cache (a school's or an office's proxy in
/// front of the room) to store the answer at all (RFC 9111 §5.2.2.7), so
/// it can never hand one learner's page, or the `Set-Cookie` with their
/// key, to another; `no-cache` alone would let it keep the copy and only
/// ask before reusing it. The learner's own browser may still keep it, so
/// the Back button works as on every other page (see
/// [`PAGE_CACHE_CONTROL`]); the copy sits where the learner's cookie, with
/// the same key, already is.
pub const LEARNER_PAGE_CACHE_CONTROL: &str = "private, no-cache";

/// The instructor's view of every learner (`/exercises/progress` and its
/// JSON): no copy anywhere, the browser's included (RFC 9111 §5.2.2.5).
///
/// It is opened with the instructor key and lists everyone's progress, on
/// the machine that is often the one at the front of the room, and nothing
/// posts to it, so `no-store` costs only a new request when going Back to
/// it.
pub const INSTRUCTOR_PAGE_CACHE_CONTROL: &str = "no-store";

/// Errors and redirects: never reused (RFC 9111 §5.2.2.5).
///
/// An error says what was wrong with one request at one moment; a 404 or
/// 405 may even be reused for a guessed lifetime without a directive
/// (they are "heuristically cacheable", RFC 9110 §15.1), so a page that
/// appears after an upgrade could stay "Nothing here". A redirect here
/// answers a form (Post/Redirect/Get) and carries that answer's one-time
/// message in a cookie. Both are cheap to make again, so nothing is lost by
/// keeping no copy.
pub const NO_STORE: &str = "no-store";

/// Where the workshop's pages live: everything under it is about one
/// learner, or (under [`INSTRUCTOR_PATH`]) about all of them.
const WORKSHOP_PATH: &str = "/exercises";

/// The instructor's view, `/exercises/progress` and `/exercises/progress.json`.
const INSTRUCTOR_PATH: &str = "/exercises/progress";

/// The `Cache-Control` for an answer whose route did not set one, or `None`
/// to leave it without (the JSON API's routes choose their own).
///
/// `sets_cookie` is asked only for a page, since looking at headers costs
/// each API answer a little time.
#[must_use]
pub fn cache_control_for(
    path: &str,
    status: Status,
    is_html: bool,
    sets_cookie: impl FnOnce() -> bool,
) -> Option<&'static str> {
    let is_error = status.code >= 400;
    // A 304 stands in for a stored answer and carries that answer's own
    // Cache-Control (RFC 9110 §15.4.5); a `no-store` here would be copied
    // onto the stored answer (RFC 9111 §4.3.4).
    let is_redirect = (300..400).contains(&status.code) && status != Status::NotModified;
    if is_error || is_redirect || is_under(path, INSTRUCTOR_PATH) {
        return Some(if is_error || is_redirect {
            NO_STORE
        } else {
            INSTRUCTOR_PAGE_CACHE_CONTROL
        });
    }
    if is_under(path, WORKSHOP_PATH) {
        return Some(LEARNER_PAGE_CACHE_CONTROL);
    }
    if !is_html {
        return None;
    }
    Some(if sets_cookie() {
        LEARNER_PAGE_CACHE_CONTROL
    } else {
        PAGE_CACHE_CONTROL
    })
}

/// `path` is `prefix` itself, or below it (`/exercises/me`, not
/// `/exercisesfoo`), or the same name with another extension
/// (`/exercises/progress.json`).
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('.'))
}

/// Adds the page headers to every HTML response, and a `Cache-Control` to
/// every response that needs one and lacks it.
pub struct PageHeaders;

#[rocket::async_trait]
impl Fairing for PageHeaders {
    fn info(&self) -> Info {
        Info {
            name: "page headers and Cache-Control",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let is_html = response.content_type() == Some(ContentType::HTML);
        if is_html {
            response.set_header(Header::new(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY,
            ));
            response.set_header(Header::new("Referrer-Policy", REFERRER_POLICY));
        }
        let policy = cache_control_for(
            request.uri().path().as_str(),
            response.status(),
            is_html,
            || response.headers().contains("Set-Cookie"),
        );
        if let Some(policy) = policy {
            if !response.headers().contains("Cache-Control") {
                response.set_header(Header::new("Cache-Control", policy));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(
        path: &str,
        status: Status,
        is_html: bool,
        sets_cookie: bool,
    ) -> Option<&'static str> {
        cache_control_for(path, status, is_html, || sets_cookie)
    }

    #[test]
    fn shared_pages_are_revalidated_and_a_page_that_sets_a_cookie_is_private() {
        for path in ["/", "/memory", "/disk", "/dashboard", "/timing"] {
            assert_eq!(
                policy(path, Status::Ok, true, false),
                Some("no-cache"),
                "{path}"
            );
            assert_eq!(
                policy(path, Status::Ok, true, true),
                Some("private, no-cache"),
                "{path}"
            );
        }
    }

    #[test]
    fn the_workshop_is_private_and_the_instructors_view_is_never_stored() {
        for path in ["/exercises", "/exercises/me", "/exercises/timings"] {
            for is_html in [true, false] {
                assert_eq!(
                    policy(path, Status::Ok, is_html, false),
                    Some("private, no-cache"),
                    "{path}"
                );
            }
        }
        for path in ["/exercises/progress", "/exercises/progress.json"] {
            assert_eq!(
                policy(path, Status::Ok, false, false),
                Some("no-store"),
                "{path}"
            );
        }
        assert_eq!(
            policy("/exercisesque", Status::Ok, false, false),
            None,
            "only the workshop's own paths"
        );
    }

    #[test]
    fn errors_and_redirects_are_never_stored_but_a_304_keeps_its_answers_policy() {
        for status in [
            Status::NotFound,
            Status::MethodNotAllowed,
            Status::UnprocessableEntity,
            Status::InternalServerError,
        ] {
            for is_html in [true, false] {
                assert_eq!(policy("/x", status, is_html, false), Some("no-store"));
            }
        }
        for status in [Status::SeeOther, Status::Found, Status::TemporaryRedirect] {
            assert_eq!(
                policy("/memory/clear", status, false, true),
                Some("no-store")
            );
        }
        assert_eq!(policy("/x", Status::NotModified, false, false), None);
    }

    #[test]
    fn json_answers_are_left_to_their_routes() {
        let mut asked_for_cookies = false;
        let chosen = cache_control_for("/factorial/20", Status::Ok, false, || {
            asked_for_cookies = true;
            true
        });
        assert_eq!(chosen, None);
        assert!(
            !asked_for_cookies,
            "an API answer's headers are not searched"
        );
    }
}
