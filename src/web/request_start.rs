//! When the server began working on a request, so that `Server-Timing`'s
//! `total` is the server's whole time for it (routing, the guards, reading
//! and parsing the body, the cache, building the answer), not only the
//! cache's part.

use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::Data;

/// The instant the request's headers had been read and Rocket began on it.
/// Sending the answer back comes after the answer's own headers are
/// written, so no timing the server reports about itself can include it.
#[derive(Debug, Clone, Copy)]
pub struct RequestStarted(pub Instant);

/// Stamps every request with [`RequestStarted`] before anything else runs.
pub struct RequestClock;

#[rocket::async_trait]
impl Fairing for RequestClock {
    fn info(&self) -> Info {
        Info {
            name: "request start time",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| RequestStarted(Instant::now()));
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestStarted {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        // Stamped by the fairing; "now" only if it was not attached.
        Outcome::Success(*request.local_cache(|| RequestStarted(Instant::now())))
    }
}
