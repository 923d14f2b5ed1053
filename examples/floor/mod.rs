//! Rocket alone, with the app's settings, sending fixed responses: the floor
//! under any cache hit. Shared by the `framework_floor` server and the
//! `dispatch_cost` instruction counter, so both measure the same thing.

use std::io::Cursor;

use rocket::figment::Figment;
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Build, Rocket};

/// The bytes of a `/factorial/20` hit, body and cache headers alike (a test
/// in `tests/app/api/validators.rs` holds the app to the same body and tag).
const HIT_BODY: &str = r#"{"number":20,"factorial":"2432902008176640000","digits":19}"#;
const HIT_ETAG: &str = r#""sha256-0f34a2871dadb447831820636e0da30a""#;
const HIT_TIMING: &str = r#"cache;desc="memory hit";dur=0.002, total;dur=0.024"#;
const HIT_STATUS: &str = "cachelab-memory;hit";

struct Fixed {
    content_type: ContentType,
    body: &'static str,
    cache_headers: bool,
}

impl<'r> Responder<'r, 'static> for Fixed {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.header(self.content_type);
        if self.cache_headers {
            response
                .header(Header::new("Cache-Control", "no-cache"))
                .header(Header::new("ETag", HIT_ETAG))
                .header(Header::new("X-Cache", "HIT"))
                .header(Header::new("Server-Timing", HIT_TIMING))
                .header(Header::new("Cache-Status", HIT_STATUS));
        }
        response
            .sized_body(self.body.len(), Cursor::new(self.body))
            .ok()
    }
}

/// The same as the app's `/health`.
#[get("/health")]
fn health() -> &'static str {
    "ok"
}

/// `/health` plus the headers a memory hit carries.
#[get("/health-with-cache-headers")]
fn health_with_cache_headers() -> Fixed {
    Fixed {
        content_type: ContentType::Plain,
        body: "ok",
        cache_headers: true,
    }
}

/// A memory hit's whole response, from the same route shape, with no lookup.
#[get("/factorial/<_n>")]
fn fixed_hit(_n: &str) -> Fixed {
    Fixed {
        content_type: ContentType::JSON,
        body: HIT_BODY,
        cache_headers: true,
    }
}

/// The app's Rocket settings from `figment`, serving only the fixed routes.
pub fn rocket(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment.merge(("ident", false)))
        .attach(cachelab::web::security_headers())
        .mount("/", routes![health, health_with_cache_headers, fixed_hit])
}
