//! What the HTTP cache lab and the shared cache in front tell the workshop:
//! the requests for a learner's lab resources that reached the app, and
//! the ones the proxy received.

use crate::http_lab::{Policy, Served};
use crate::lab::Lab;
use crate::workshop::{HttpResourceEvent, LearnerName, What};

/// A request for a lab resource that reached the app, as the lab answered it.
pub struct ResourceRequest<'a> {
    pub name: &'a str,
    pub served: &'a Served,
    pub policy: &'a Policy,
    /// It carried `If-None-Match`.
    pub conditional: bool,
    pub through_proxy: bool,
    /// The proxy's id for it (`X-Request-Id`), when a proxy passed it on.
    pub proxy_request: Option<&'a str>,
}

/// Records a named learner's request for a lab resource.
pub fn note_resource_request(lab: &Lab, learner: &LearnerName, request: ResourceRequest<'_>) {
    let event = HttpResourceEvent {
        name: request.name.to_owned(),
        status: request.served.outcome.status_code(),
        conditional: request.conditional,
        via_proxy: request.through_proxy,
        cache_control: request
            .policy
            .cache_control
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        proxy_request: request
            .through_proxy
            .then(|| request.proxy_request.map(bounded_id))
            .flatten(),
    };
    lab.workshop().record(learner, What::HttpResource(event));
}

/// Records that the shared cache in front received a named learner's
/// request for a lab resource, with the proxy's id for it.
pub fn note_proxy_received(lab: &Lab, learner: &LearnerName, name: &str, proxy_request: &str) {
    lab.workshop().record(
        learner,
        What::ProxyReceived {
            name: name.to_owned(),
            request: bounded_id(proxy_request),
        },
    );
}

/// nginx's ids are 32 hex digits; anything longer is cut, so a forged
/// header cannot grow the progress file.
fn bounded_id(id: &str) -> String {
    id.chars().take(64).collect()
}
