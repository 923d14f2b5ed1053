//! The shared cache's witness (see [`crate::proxy_witness`]): the route the
//! proxy mirrors each request for the lab's resource to, and the report
//! that sets what the proxy received beside what reached the app.

use rocket::fairing::AdHoc;
use rocket::http::uri::Origin;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{get, routes, State};
use serde::Serialize;

use crate::http_lab::HttpLab;
use crate::lab::Lab;
use crate::proxy_witness::ProxyWitness;
use crate::web::errors::ApiError;
use crate::web::guards::Learner;
use crate::web::http_lab::{bounded_id, read_resource_request, resource_name, RequestHeaders};
use crate::web::NotStored;
use crate::workshop::{LearnerName, What};

/// The header the proxy carries the witness key in.
pub const WITNESS_KEY_HEADER: &str = "X-Proxy-Witness-Key";

/// Mounts the witness routes and keeps the counts.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("shared cache witness", |rocket| async {
        rocket
            .manage(ProxyWitness::new())
            .mount("/", routes![witness_report, proxy_report])
    })
}

/// Proof that a request came from the proxy: it carries the key the app
/// was started with. Without a key in the settings there is no witness,
/// and the route answers 404, as if it did not exist; a wrong key is a 403.
pub struct FromTheProxy;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for FromTheProxy {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let expected = request
            .rocket()
            .state::<Lab>()
            .and_then(|lab| lab.config().proxy_witness_key.as_ref());
        let Some(expected) = expected else {
            let error = ApiError::new(
                Status::NotFound,
                "there is no shared cache witness here: the app was started without \
                 proxy_witness_key",
            );
            return Outcome::Error((error.status, error));
        };
        match request.headers().get_one(WITNESS_KEY_HEADER) {
            Some(offered) if expected.matches(offered) => Outcome::Success(FromTheProxy),
            offered => {
                let error = ApiError::new(
                    Status::Forbidden,
                    if offered.is_some() {
                        "that is not this app's proxy witness key"
                    } else {
                        "only the shared cache in front reports here, with the proxy witness key"
                    },
                );
                Outcome::Error((error.status, error))
            }
        }
    }
}

/// `GET /http-cache/witness/resource/<name>`: the proxy received a request
/// for the lab's resource `<name>`. The mirrored request carries the
/// original's headers, so its learner credential says who sent it (a
/// credential that proves nobody is counted without a learner: the proxy
/// received the request all the same) and `If-None-Match` whether it was a
/// revalidation.
#[get("/http-cache/witness/resource/<name>")]
fn witness_report(
    name: &str,
    proxy: Result<FromTheProxy, ApiError>,
    learner: Result<Learner, ApiError>,
    uri: &Origin<'_>,
    headers: RequestHeaders<'_>,
    witness: &State<ProxyWitness>,
    lab: &State<Lab>,
) -> Result<Status, ApiError> {
    // Refused here rather than by a failing guard, so the answer says why
    // (the catchers word a bare 403 as a request from another site).
    proxy?;
    let name = resource_name(name)?;
    // What the resource route would refuse was not answered by the proxy
    // from a copy of the resource: it is counted as received, never as a
    // workshop learner's request the proxy kept from the app.
    let acceptable = read_resource_request(name.as_str(), uri, headers.0).is_ok();
    let learner = learner.ok().and_then(|Learner(name)| name);
    witness.record(
        name.as_str(),
        learner.as_ref().map(|learner| learner.as_str()),
        headers.0.contains("If-None-Match"),
    );
    if let (Some(learner), Some(request), true) = (
        &learner,
        // nginx's id for the request (proxy/room.conf sets it on the request
        // it passes on and on this report alike).
        headers.0.get_one("X-Request-Id"),
        acceptable,
    ) {
        note_proxy_received(lab, learner, name.as_str(), request);
    }
    Ok(Status::NoContent)
}

/// What `GET /http-cache/resource/<name>/proxy` answers.
#[derive(Serialize)]
pub struct ProxyReport {
    resource: String,
    /// Whether a shared cache reports here at all (the app was started with
    /// `proxy_witness_key`): without one every count stays zero.
    witness: bool,
    /// Requests for the resource the shared cache received, from anyone.
    received_by_proxy: u64,
    /// Of those, requests that asked "still this one?" (`If-None-Match`).
    conditional_received_by_proxy: u64,
    /// Requests from the learner who asks, when the request says who.
    #[serde(skip_serializing_if = "Option::is_none")]
    received_by_proxy_from_you: Option<u64>,
    /// Requests for the resource that reached the app through a proxy (the
    /// lab's own count, `/requests`): what the proxy passed on, whether to
    /// fetch, revalidate or refresh in the background.
    reached_app_through_proxy: u64,
    /// What the proxy answered by itself: received, less passed on. A
    /// request the proxy passes on while its report is still on the way
    /// can make this one short for a moment; never below zero.
    answered_by_proxy: u64,
}

/// `GET /http-cache/resource/<name>/proxy`: what the shared cache received
/// for the resource. Counts change with every request, so the answer is
/// `no-store`: no cache may keep it.
#[get("/http-cache/resource/<name>/proxy")]
fn proxy_report(
    name: &str,
    learner: Result<Learner, ApiError>,
    lab: &State<Lab>,
    http_lab: &State<HttpLab>,
    witness: &State<ProxyWitness>,
) -> Result<NotStored<Json<ProxyReport>>, ApiError> {
    let name = resource_name(name)?;
    let Learner(learner) = learner?;
    let received = witness.received(
        name.as_str(),
        learner.as_ref().map(|learner| learner.as_str()),
    );
    let reached_app_through_proxy = http_lab.requests(&name).through_proxy;
    Ok(NotStored::new(Json(ProxyReport {
        resource: name.to_string(),
        witness: lab.config().proxy_witness_key.is_some(),
        received_by_proxy: received.requests,
        conditional_received_by_proxy: received.conditional,
        received_by_proxy_from_you: received.from_learner,
        reached_app_through_proxy,
        answered_by_proxy: received.requests.saturating_sub(reached_app_through_proxy),
    })))
}

/// Records that the shared cache in front received a named learner's
/// request for a lab resource, with the proxy's id for it.
fn note_proxy_received(lab: &Lab, learner: &LearnerName, name: &str, proxy_request: &str) {
    lab.workshop().record(
        learner,
        What::ProxyReceived {
            name: name.to_owned(),
            request: bounded_id(proxy_request),
        },
    );
}
