//! `GET /metrics` for Prometheus, and the fairing that times every request
//! for it (see [`crate::metrics`]).

use std::sync::Arc;

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::http::ContentType;
use rocket::{get, routes, Build, Request, Response, Rocket, State};

use crate::lab::Lab;
use crate::metrics::{Metrics, SharedTierReading, TierReading, TEXT_FORMAT, UNMATCHED_ROUTE};
use crate::web::request_start::RequestStarted;
use crate::web::NotStored;

/// Sets up the metrics when the app ignites: the registry, labelled with
/// [`instance_label`], the fairing that times requests, and the route.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("metrics", |rocket| async {
        let metrics = Arc::new(Metrics::new(&instance_label(&rocket)));
        rocket
            .attach(RequestMetrics(Arc::clone(&metrics)))
            .manage(metrics)
            .mount("/", routes![metrics])
    })
}

/// The `instance` label on every series: the instance's own name, the
/// same one `X-Instance` and the pages show (`instance_name`, the port
/// unless set).
fn instance_label(rocket: &Rocket<Build>) -> String {
    rocket
        .state::<Lab>()
        .map(|lab| lab.config().instance_name.to_string())
        .unwrap_or_else(|| {
            rocket
                .figment()
                .extract_inner::<u16>(rocket::Config::PORT)
                .unwrap_or(rocket::Config::default().port)
                .to_string()
        })
}

/// `GET /metrics`: the tiers' counters as they stand, and the request
/// histograms. Cheap to scrape: the tiers' counters are kept as they go
/// (the disk tier's size is its recorded footprint, one small file, not a
/// walk of the directory; the shared tier's counters are this instance's
/// own, so a scrape never calls Redis). A scrape describes a moment, so no
/// cache may keep it.
#[get("/metrics")]
fn metrics(lab: &State<Lab>, metrics: &State<Arc<Metrics>>) -> NotStored<(ContentType, String)> {
    let mut tiers = vec![
        TierReading::memory(&lab.memory().stats()),
        TierReading::disk(&lab.disk().stats()),
    ];
    // Without a redis_url there is no shared tier, and no series for it:
    // zeros would read as a Redis that is there and idle.
    let shared = lab.shared().is_configured().then(|| {
        let stats = lab.shared().stats();
        tiers.push(TierReading::redis(&stats));
        SharedTierReading::from_stats(&stats)
    });
    NotStored::new((text_format(), metrics.render(&tiers, shared.as_ref())))
}

/// The text format's media type, with the version the encoder writes.
fn text_format() -> ContentType {
    ContentType::parse_flexible(TEXT_FORMAT).expect("the text format's media type parses")
}

/// Times each request from [`RequestStarted`] to its response being ready,
/// into the route's histogram. Attached after the fairings that shape
/// responses, so their work is inside the time.
struct RequestMetrics(Arc<Metrics>);

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "request duration histograms",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let started = request.local_cache(|| RequestStarted(std::time::Instant::now()));
        let route = request
            .route()
            .map_or(UNMATCHED_ROUTE, |route| route.uri.as_str());
        self.0.observe_request(
            route,
            request.method().as_str(),
            response.status().code,
            started.0.elapsed(),
        );
    }
}
