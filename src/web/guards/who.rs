//! Who sent a request: a learner proven by their key, the instructor by
//! theirs, and whether the client wants a page or data.

use rocket::http::{Cookie, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};

use crate::lab::Lab;
use crate::web::errors::ApiError;
use crate::workshop::{Credential, CredentialRefusal, InstructorKey, LearnerName};

/// The cookie that remembers a browser's learner, as a credential
/// (`name:key`, see [`crate::workshop::Credential`]).
pub const LEARNER_COOKIE: &str = "cachelab_learner";
/// The header a curl learner sends their credential in (`?learner=` works too).
pub const LEARNER_HEADER: &str = "X-Learner";
/// The header that carries the instructor key (`?key=` works too).
pub const INSTRUCTOR_HEADER: &str = "X-Instructor-Key";

/// Who sent a request, if they said: the `X-Learner` header, else the
/// `learner` query parameter, else the browser's cookie. What the header or
/// the parameter says must be a credential (`name:key`): an unusable name
/// is refused with a 400, a name without its own key with a 403, rather
/// than silently ignored. A cookie that proves nothing counts as none.
pub struct Learner(pub Option<LearnerName>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Learner {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let lab = match running_lab(request) {
            Ok(lab) => lab,
            Err(error) => return Outcome::Error((error.status, error)),
        };
        let said = request
            .headers()
            .get_one(LEARNER_HEADER)
            .or_else(|| request.query_value::<&str>("learner").and_then(Result::ok));
        match said {
            Some(credential) => match lab.workshop().identify(credential) {
                Ok(name) => Outcome::Success(Learner(Some(name))),
                Err(refusal) => {
                    let error = credential_refused(refusal);
                    Outcome::Error((error.status, error))
                }
            },
            None => Outcome::Success(Learner(cookie_learner(request, lab))),
        }
    }
}

/// The lab every guard here checks credentials and keys with. Missing only
/// from an app built without it: a bug, answered with a 500.
pub(crate) fn running_lab<'r>(request: &'r Request<'_>) -> Result<&'r Lab, ApiError> {
    request
        .rocket()
        .state::<Lab>()
        .ok_or_else(|| ApiError::new(Status::InternalServerError, "the workshop is not running"))
}

/// The answer to a credential that proves no learner. Nothing is recorded
/// for anyone: the request never reaches its handler's work.
pub(crate) fn credential_refused(refusal: CredentialRefusal) -> ApiError {
    let how = format!(
        "an {LEARNER_HEADER} header (or ?learner=) with your name and key, as in \
         '{LEARNER_HEADER}: ada-lovelace:<your key>': every curl command on your own exercises \
         page (/exercises) carries them"
    );
    match refusal {
        CredentialRefusal::UnusableName(reason) => {
            ApiError::new(Status::BadRequest, reason).accepting(how)
        }
        CredentialRefusal::MissingKey(name) => ApiError::new(
            Status::Forbidden,
            format!(
                "the name {name} came without its key: a name belongs to whoever holds its key, \
                 so nothing was recorded"
            ),
        )
        .accepting(how),
        CredentialRefusal::WrongKey(name) => ApiError::new(
            Status::Forbidden,
            format!(
                "that is not the key of {name}: a name belongs to whoever holds its key, so \
                 nothing was recorded"
            ),
        )
        .accepting(how),
    }
}

/// The learner the browser's cookie proves, if it proves one.
pub(crate) fn cookie_learner(request: &Request<'_>, lab: &Lab) -> Option<LearnerName> {
    let cookie = request.cookies().get(LEARNER_COOKIE)?;
    lab.workshop().identify(cookie.value()).ok()
}

/// A browser's learner: the one its cookie proves, or a new friendly name
/// (remembered in the cookie with its key) on its first visit. A cookie
/// that proves nothing (made up, from another room, from before names had
/// keys) is treated as no cookie.
pub struct BrowserLearner {
    pub name: LearnerName,
    /// The credential just put in a new browser's cookie (nothing is kept
    /// for it until the browser comes back with it).
    pub offered: Option<Credential>,
    /// Whether the browser came back with its cookie. A one-off visit (a link
    /// preview, a crawler, a screenshot tool) never does.
    returning: bool,
}

impl BrowserLearner {
    /// The learner to record this request for: only a browser that has come
    /// back with its cookie, so one-off visitors never show up as learners.
    pub fn recorded(&self) -> Option<&LearnerName> {
        self.returning.then_some(&self.name)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BrowserLearner {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let lab = match running_lab(request) {
            Ok(lab) => lab,
            Err(error) => return Outcome::Error((error.status, error)),
        };
        let learner = match cookie_learner(request, lab) {
            Some(name) => BrowserLearner {
                name,
                offered: None,
                returning: true,
            },
            None => {
                let name = lab.workshop().fresh_name();
                let offered = lab.workshop().offer(&name);
                request.cookies().add(learner_cookie(&offered));
                BrowserLearner {
                    name,
                    offered: Some(offered),
                    returning: false,
                }
            }
        };
        Outcome::Success(learner)
    }
}

/// Kept for a year: a workshop may span days.
pub(crate) fn learner_cookie(credential: &Credential) -> Cookie<'static> {
    // HttpOnly: no script needs it, so none can read it. SameSite=Lax: other
    // sites' forms arrive without it (and are refused anyway, see guards).
    Cookie::build((LEARNER_COOKIE, credential.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(rocket::time::Duration::days(365))
        .build()
}

/// Proof that a request carries this room's instructor key, in an
/// `X-Instructor-Key` header or a `?key=` parameter. The view it opens
/// lists every learner, so without the key it is refused with a 403.
pub struct Instructor {
    /// The key as the server knows it, for links that must keep it.
    pub(crate) key: InstructorKey,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Instructor {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let lab = match running_lab(request) {
            Ok(lab) => lab,
            Err(error) => return Outcome::Error((error.status, error)),
        };
        let offered = request
            .headers()
            .get_one(INSTRUCTOR_HEADER)
            .or_else(|| request.query_value::<&str>("key").and_then(Result::ok));
        let expected = lab.instructor_key();
        let error = match offered {
            Some(offered) if expected.matches(offered) => {
                return Outcome::Success(Instructor {
                    key: expected.clone(),
                })
            }
            Some(_) => "that is not this room's instructor key",
            None => "everyone's progress is for the instructor, so this needs the instructor key",
        };
        let error = ApiError::new(Status::Forbidden, error).accepting(format!(
            "the link cachelab printed in its terminal when it started (the line beginning \
             'Instructor view:'), or the key in an {INSTRUCTOR_HEADER} header"
        ));
        Outcome::Error((error.status, error))
    }
}

/// Whether the client prefers a web page to data.
pub struct WantsHtml(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for WantsHtml {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(WantsHtml(crate::web::errors::wants_html(request)))
    }
}
