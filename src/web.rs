//! The web layer: every route, catcher, page and request guard, and the
//! fairings that shape responses. The tiers and the workshop know nothing
//! of it; [`stage`] puts it onto a Rocket that already manages the
//! [`crate::lab::Lab`].

use rocket::fs::relative;
use rocket::shield::{Permission, Shield};
use rocket::{Build, Rocket};

pub mod api;
pub mod assets;
pub mod catalogue;
pub mod chart;
pub mod errors;
pub mod exercises;
pub mod fields_body;
pub mod guards;
pub mod http_lab;
pub mod instance;
pub mod metrics;
pub mod page_headers;
pub mod pages;
pub mod proxy_witness;
pub mod render;
pub mod request_start;
pub mod shared_tier;
pub mod sizing;
pub mod speed;

/// An answer sent with `Cache-Control: no-store` (RFC 9111 §5.2.2.5): one
/// that describes a moment (a count, a report, what a change did), which no
/// browser or proxy may keep to show later.
#[derive(rocket::Responder)]
pub struct NotStored<R> {
    inner: R,
    cache_control: rocket::http::Header<'static>,
}

impl<R> NotStored<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            cache_control: rocket::http::Header::new("Cache-Control", "no-store"),
        }
    }
}

/// Rocket's default security headers, less `Permissions-Policy:
/// interest-cohort=()`. It opted out of FLoC, a browser experiment that was
/// withdrawn in 2022, so it no longer does anything, and every header costs
/// each response time (see "Performance" in the README).
/// `X-Content-Type-Options` and `X-Frame-Options` stay on every response.
pub fn security_headers() -> Shield {
    Shield::default().disable::<Permission>()
}

/// Mounts the JSON API, the pages, the workshop, the static files and
/// `/metrics`, registers the catchers, and attaches the fairings every
/// response goes through. Called before any other fairing is attached, so that
/// `Server-Timing`'s `total` starts before any other work on a request (in
/// debug builds the template fairing checks every template for changes on
/// each request). The templates are set up by the static files' stage,
/// when it has read the files whose addresses the pages link.
pub fn stage(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
        .attach(request_start::RequestClock)
        .attach(assets::stage(relative!("static")))
        .attach(security_headers())
        .attach(page_headers::PageHeaders)
        .mount("/", api::routes())
        .mount("/", pages::routes())
        .mount("/", exercises::routes())
        .mount(assets::MOUNT_POINT, assets::routes())
        .mount("/", http_lab::routes())
        .mount("/", catalogue::routes())
        .attach(sizing::stage())
        .manage(crate::http_lab::HttpLab::new(crate::clock::Clock::system()))
        .attach(proxy_witness::stage())
        .attach(metrics::stage())
        .attach(speed::stage())
        .register("/", errors::catchers())
}
