//! The HTTP-cache lab's routes: a resource whose caching headers the
//! learner picks in its query, a change that makes a new version of it, the
//! count of what reached the app, and the page that drives them.
//!
//! The resource is what browsers and proxies cache, so it sends exactly the
//! headers the learner asked for and nothing that would stop a cache from
//! storing it: no `Set-Cookie` (the `Learner` guard never sets one), no
//! `Cache-Control` of its own.

use rocket::http::uri::Origin;
use rocket::http::{ContentType, Header, HeaderMap, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Json;
use rocket::{get, head, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::http_lab::{
    Arrival, CacheControl, Changed, HttpLab, InvalidResourceName, Outcome as Answered, Policy,
    ReadMethod, RequestLog, ResourceName, Served, MAX_DIRECTIVE_SECS, MAX_NAME_CHARS, MAX_SLOW_MS,
    MAX_VARIED_VALUE_BYTES, RECENT_REQUESTS_PER_RESOURCE,
};
use crate::lab::Lab;
use crate::web::errors::ApiError;
use crate::web::guards::{BrowserLearner, Learner, SameOriginChange};
use crate::web::render::{render, BaseUrl};
use crate::web::NotStored;
use crate::workshop::{HttpResourceEvent, LearnerName, What};

pub fn routes() -> Vec<Route> {
    routes![
        http_cache_page,
        get_resource,
        head_resource,
        change_resource,
        resource_requests
    ]
}

/// The header that says which request to reach the app made this copy.
pub const SERVED_BY_APP_HEADER: &str = "X-Served-By-App";

#[derive(Serialize)]
struct HttpCachePage {
    base_url: String,
    /// This page view's own resource.
    resource_name: String,
    max_directive_secs: u32,
    max_slow_ms: u64,
    max_name_chars: usize,
    recent_per_resource: usize,
    /// The policy an exercise link asked for (`?cc=`), normalized: offered
    /// first, and chosen.
    preset_cache_control: Option<String>,
    /// The page was opened for one of a learner's own exercise resources
    /// (`?name=`): it reports its loads, so the workshop can count the ones
    /// the browser answered by itself.
    reports_loads: bool,
    /// What in the address could not be used, said on the page.
    preset_refused: Option<String>,
}

/// `GET /http-cache`: the page where a learner picks a policy and sees what
/// the browser did with it.
///
/// `?name=` and `?cc=` (the exercise page's links) open it on a given
/// resource with a given policy already chosen; a value the lab would
/// refuse is set aside with a note, and the page works as if it were absent.
#[get("/http-cache?<name>&<cc>")]
fn http_cache_page(
    name: Option<&str>,
    cc: Option<&str>,
    _learner: BrowserLearner,
    base_url: BaseUrl,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    let mut refused = Vec::new();
    let preset_name = name.and_then(|name| match ResourceName::parse(name) {
        Ok(name) => Some(name),
        Err(problem) => {
            refused.push(format!("the resource name in the address ({problem})"));
            None
        }
    });
    let preset_cache_control = cc.and_then(|cc| match CacheControl::parse(cc) {
        Ok(policy) => Some(policy.to_string()),
        Err(problem) => {
            refused.push(format!(
                "the Cache-Control in the address ({})",
                problem.problem
            ));
            None
        }
    });
    render(
        "http_cache",
        "The browser's HTTP cache",
        flash,
        HttpCachePage {
            base_url: base_url.0,
            reports_loads: preset_name.is_some(),
            resource_name: preset_name.unwrap_or_else(ResourceName::fresh).to_string(),
            preset_cache_control,
            preset_refused: (!refused.is_empty())
                .then(|| format!("This page could not use {}.", refused.join(", nor "))),
            max_directive_secs: MAX_DIRECTIVE_SECS,
            max_slow_ms: MAX_SLOW_MS,
            max_name_chars: MAX_NAME_CHARS,
            recent_per_resource: RECENT_REQUESTS_PER_RESOURCE,
        },
    )
}

/// The request headers, for the facts a resource needs from them.
pub struct RequestHeaders<'r>(pub(crate) &'r HeaderMap<'r>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestHeaders<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(RequestHeaders(request.headers()))
    }
}

/// `GET /http-cache/resource/<name>?cc=...&etag=0|1&vary=...&slow=ms`.
#[get("/http-cache/resource/<name>")]
async fn get_resource(
    name: &str,
    uri: &Origin<'_>,
    headers: RequestHeaders<'_>,
    learner: Result<Learner, ApiError>,
    lab: &State<HttpLab>,
    workshop_lab: &State<Lab>,
) -> Result<LabResource, ApiError> {
    serve(
        ReadMethod::Get,
        name,
        uri,
        headers,
        learner,
        lab,
        workshop_lab,
    )
    .await
}

/// `HEAD` of the same resource: answered by its own route only so that the
/// count can tell HEAD from GET (Rocket would otherwise run the GET route
/// with the method already rewritten to GET). Rocket drops the body.
#[head("/http-cache/resource/<name>")]
async fn head_resource(
    name: &str,
    uri: &Origin<'_>,
    headers: RequestHeaders<'_>,
    learner: Result<Learner, ApiError>,
    lab: &State<HttpLab>,
    workshop_lab: &State<Lab>,
) -> Result<LabResource, ApiError> {
    serve(
        ReadMethod::Head,
        name,
        uri,
        headers,
        learner,
        lab,
        workshop_lab,
    )
    .await
}

async fn serve(
    method: ReadMethod,
    name: &str,
    uri: &Origin<'_>,
    headers: RequestHeaders<'_>,
    learner: Result<Learner, ApiError>,
    lab: &HttpLab,
    workshop_lab: &Lab,
) -> Result<LabResource, ApiError> {
    let at_ms = lab.now_ms();
    let headers = headers.0;
    let ResourceAsked {
        name,
        policy,
        varied_value,
    } = read_resource_request(name, uri, headers)?;
    let named = learner?.0;
    let if_none_match_lines: Vec<&str> = headers.get("If-None-Match").collect();
    let arrival = Arrival {
        method,
        if_none_match: (!if_none_match_lines.is_empty()).then(|| if_none_match_lines.join(", ")),
        if_modified_since: headers.get_one("If-Modified-Since"),
        through_proxy: headers.contains("X-Forwarded-For") || headers.contains("Via"),
        learner: named.as_ref().map(|learner| learner.to_string()),
        varied_value,
        at_ms,
    };
    let through_proxy = arrival.through_proxy;
    let served = lab.serve(&name, &policy, arrival);
    // A HEAD is not a load: the exercises count only what a page or a
    // curl learner fetched.
    if let (Some(learner), ReadMethod::Get) = (&named, method) {
        note_resource_request(
            workshop_lab,
            learner,
            ResourceRequest {
                name: name.as_str(),
                served: &served,
                policy: &policy,
                conditional: !if_none_match_lines.is_empty(),
                through_proxy,
                proxy_request: headers.get_one("X-Request-Id"),
            },
        );
    }
    if !policy.slow.is_zero() {
        // Counted (and recorded for the workshop) on arrival, answered
        // later: long enough for a second request to arrive at a proxy
        // while this one is still on its way.
        tokio::time::sleep(policy.slow).await;
    }
    Ok(LabResource { served, policy })
}

/// What a request for a lab resource asks for, once the lab has accepted it.
pub(crate) struct ResourceAsked<'r> {
    pub name: ResourceName,
    pub policy: Policy,
    /// The value of the header the policy varies on, if it was sent.
    pub varied_value: Option<&'r str>,
}

/// Reads a request for the resource `name` (its query and, for `Vary`, the
/// header it names) as the resource route does, refusing what it refuses.
/// The witness route reads what nginx received the same way, so a request
/// the app would refuse never counts as one the proxy answered.
pub(crate) fn read_resource_request<'r>(
    name: &str,
    uri: &Origin<'_>,
    headers: &'r HeaderMap<'r>,
) -> Result<ResourceAsked<'r>, ApiError> {
    let name = resource_name(name)?;
    let policy = Policy::from_query(uri.query().into_iter().flat_map(|query| query.segments()))
        .map_err(|refused| {
            ApiError::new(Status::BadRequest, refused.to_string()).accepting(refused.accepted)
        })?;
    let varied_value = match policy.vary {
        Some(vary) => {
            let value = headers.get_one(vary.header_name());
            if value.is_some_and(|value| value.len() > MAX_VARIED_VALUE_BYTES) {
                return Err(ApiError::new(
                    Status::BadRequest,
                    format!(
                        "the {} header is longer than the {MAX_VARIED_VALUE_BYTES} bytes this \
                         resource repeats in its body",
                        vary.header_name()
                    ),
                )
                .accepting(format!(
                    "an {} header of at most {MAX_VARIED_VALUE_BYTES} bytes, or none",
                    vary.header_name()
                )));
            }
            value
        }
        None => None,
    };
    Ok(ResourceAsked {
        name,
        policy,
        varied_value,
    })
}

pub(crate) fn resource_name(written: &str) -> Result<ResourceName, ApiError> {
    ResourceName::parse(written).map_err(|refused: InvalidResourceName| {
        let shown: String = written.chars().take(60).collect();
        ApiError::new(Status::BadRequest, format!("{shown:?}: {refused}"))
            .accepting(InvalidResourceName::accepted())
    })
}

/// A resource's answer: 200 with its body, or 304 with none, and in both the
/// same `ETag`, `Cache-Control` and `Vary` (RFC 9110 §15.4.5), so that a
/// cache that revalidated updates its stored copy's headers from them.
struct LabResource {
    served: Served,
    policy: Policy,
}

impl<'r> Responder<'r, 'static> for LabResource {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let Self { served, policy } = self;
        let mut response = Response::build();
        if let Some(cache_control) = &policy.cache_control {
            response.header(Header::new("Cache-Control", cache_control.to_string()));
        }
        if let Some(etag) = &served.etag {
            response.header(Header::new("ETag", etag.to_string()));
        }
        if let Some(vary) = policy.vary {
            response.header(Header::new("Vary", vary.header_name()));
        }
        response.header(Header::new(
            SERVED_BY_APP_HEADER,
            served.served_by_app.to_string(),
        ));
        match served.outcome {
            Answered::Full => {
                response
                    .status(Status::Ok)
                    .header(ContentType::JSON)
                    .sized_body(served.body.len(), std::io::Cursor::new(served.body));
            }
            Answered::NotModified => {
                response.status(Status::NotModified);
            }
        }
        response.ok()
    }
}

/// `POST /http-cache/resource/<name>/change`: a new version, so the next
/// revalidation gets a 200 with a new `ETag`.
#[post("/http-cache/resource/<name>/change")]
fn change_resource(
    _from: SameOriginChange,
    name: &str,
    lab: &State<HttpLab>,
) -> Result<NotStored<Json<Changed>>, ApiError> {
    let name = resource_name(name)?;
    Ok(NotStored::new(Json(lab.change(&name))))
}

/// `GET /http-cache/resource/<name>/requests`: what reached the app for
/// `name`. It changes with every request, so no cache may keep it.
#[get("/http-cache/resource/<name>/requests")]
fn resource_requests(
    name: &str,
    lab: &State<HttpLab>,
) -> Result<NotStored<Json<RequestLog>>, ApiError> {
    let name = resource_name(name)?;
    Ok(NotStored::new(Json(lab.requests(&name))))
}

/// A request for a lab resource that reached the app, as the lab answered it.
struct ResourceRequest<'a> {
    name: &'a str,
    served: &'a Served,
    policy: &'a Policy,
    /// It carried `If-None-Match`.
    conditional: bool,
    through_proxy: bool,
    /// The proxy's id for it (`X-Request-Id`), when a proxy passed it on.
    proxy_request: Option<&'a str>,
}

/// Records a named learner's request for a lab resource.
fn note_resource_request(lab: &Lab, learner: &LearnerName, request: ResourceRequest<'_>) {
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

/// nginx's ids are 32 hex digits; anything longer is cut, so a forged
/// header cannot grow the progress file.
pub(crate) fn bounded_id(id: &str) -> String {
    id.chars().take(64).collect()
}
