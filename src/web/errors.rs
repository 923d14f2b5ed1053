//! Every refusal the app makes: one JSON shape for API clients
//! (`{"error", "accepted"?, "status"}`) and a page in the site's layout for browsers.
//!
//! Both are sent with `Cache-Control: no-store` ([`ERROR_CACHE_CONTROL`]).

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{catch, catchers, Catcher};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;

/// No cache keeps a refusal (RFC 9111 §5.2.2.5), in either shape.
///
/// A refusal is about one request at one moment: this input, this body,
/// this learner's key, a route that does not exist yet. Without a directive
/// a 404, 405, 414 or 501 may even be reused for a lifetime the cache
/// guesses (they are "heuristically cacheable", RFC 9110 §15.1; RFC 9111
/// §4.2.2), so a browser could keep showing "Nothing here" for a page that
/// exists by now, and a refusal that repeats what the client sent (a path,
/// a learner's name) has no business in a shared cache. Making one again
/// costs next to nothing.
pub const ERROR_CACHE_CONTROL: &str = crate::web::page_headers::NO_STORE;

/// A 4xx (or, for a bug, 5xx) answer with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: Status,
    /// What went wrong.
    pub error: String,
    /// What would have been accepted, when that helps.
    pub accepted: Option<String>,
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: Status, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            accepted: None,
            allow: None,
        }
    }

    pub fn accepting(mut self, accepted: impl Into<String>) -> Self {
        self.accepted = Some(accepted.into());
        self
    }

    /// For 405 answers: the methods the resource does take.
    pub fn allowing(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }

    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            accepted: Option<&'a str>,
            status: u16,
        }
        let body = Body {
            error: &self.error,
            accepted: self.accepted.as_deref(),
            status: self.status.code,
        };
        serde_json::to_string(&body).expect("an error body always serializes")
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = self.to_json();
        let mut response = Response::build();
        response
            .status(self.status)
            .header(ContentType::JSON)
            .header(Header::new("Cache-Control", ERROR_CACHE_CONTROL))
            .sized_body(body.len(), std::io::Cursor::new(body));
        if let Some(methods) = self.allow {
            response.header(Header::new("Allow", methods));
        }
        response.ok()
    }
}

/// Whether the client asked for a web page (a browser) rather than data.
pub fn wants_html(request: &Request<'_>) -> bool {
    request
        .accept()
        .is_some_and(|accept| accept.preferred().media_type().is_html())
}

/// A refusal in the form the client asked for: a page in the site's layout
/// for browsers, the JSON shape for everyone else. The page is rendered only
/// when sent, so a refusal stays small enough to return by value.
pub enum Refusal {
    Page(ApiError),
    Json(ApiError),
}

impl<'r> Responder<'r, 'static> for Refusal {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match self {
            Refusal::Page(error) => {
                let reason = error.status.reason().unwrap_or("Error");
                let context = context! {
                    title: format!("{} {reason}", error.status.code),
                    active: "",
                    code: error.status.code,
                    reason,
                    message: &error.error,
                    accepted: &error.accepted,
                };
                let mut response =
                    (error.status, Template::render("error", context)).respond_to(request)?;
                response.set_header(Header::new("Cache-Control", ERROR_CACHE_CONTROL));
                Ok(response)
            }
            Refusal::Json(error) => error.respond_to(request),
        }
    }
}

impl Refusal {
    /// `error` as a page when the client wants one (see [`wants_html`]), else
    /// as JSON: for routes that refuse from their handler rather than a catcher.
    pub fn for_client(wants_html: bool, error: ApiError) -> Self {
        if wants_html {
            Refusal::Page(error)
        } else {
            Refusal::Json(error)
        }
    }
}

fn refuse(request: &Request<'_>, error: ApiError) -> Refusal {
    Refusal::for_client(wants_html(request), error)
}

/// Rocket's own refusals (no route, body too large, a guard failing) in the
/// same shapes as ours.
pub fn catchers() -> Vec<Catcher> {
    catchers![
        forbidden,
        not_found,
        unprocessable,
        payload_too_large,
        any_other
    ]
}

#[catch(403)]
fn forbidden(request: &Request<'_>) -> Refusal {
    let reason = request
        .local_cache(crate::web::guards::CrossSiteRefusal::default)
        .0
        .clone()
        .unwrap_or_else(|| "this request is not allowed".to_owned());
    let error = ApiError::new(Status::Forbidden, format!("{reason}; nothing was changed"))
        .accepting(
            "changes sent from this app's own pages, or from a client that is not a browser \
         (curl sends no Origin)",
        );
    refuse(request, error)
}

#[catch(404)]
fn not_found(request: &Request<'_>) -> Refusal {
    let error = ApiError::new(
        Status::NotFound,
        format!(
            "Nothing here: {} {}",
            request.method(),
            request.uri().path()
        ),
    );
    let error = if wants_html(request) {
        error.accepting("the pages listed in the menu above")
    } else {
        error
            .accepting("GET /factorial/<n>, POST /data, GET /stats, GET /health, POST /clear-cache")
    };
    refuse(request, error)
}

#[catch(422)]
fn unprocessable(request: &Request<'_>) -> Refusal {
    let error = ApiError::new(
        Status::UnprocessableEntity,
        "the request was understood, but its content could not be used",
    );
    refuse(request, error)
}

#[catch(413)]
fn payload_too_large(request: &Request<'_>) -> Refusal {
    let limit = request.limits().get("json").map(|limit| limit.to_string());
    let error =
        ApiError::new(Status::PayloadTooLarge, "the request body is too large").accepting(format!(
            "a body of at most {}",
            limit.unwrap_or_else(|| "1MiB".into())
        ));
    refuse(request, error)
}

#[catch(default)]
fn any_other(status: Status, request: &Request<'_>) -> Refusal {
    let reason = status.reason().unwrap_or("request refused");
    refuse(request, ApiError::new(status, reason.to_lowercase()))
}
