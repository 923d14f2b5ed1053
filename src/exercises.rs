//! Workshop routes: the exercise page, the instructor's view, and how a
//! request says which learner sent it.

use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, SameSite, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{get, post, routes, uri, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::errors::{ApiError, Refusal};
use crate::guards::SameOriginChange;
use crate::lab::Lab;
use crate::pages::{render, BaseUrl};
use crate::workshop::{
    Credential, CredentialRefusal, Exercise, ExercisePath, InstructorKey, LearnerName,
    LearnerProgress, Plan, Reading, ReadingError,
};

mod evidence;
mod instructor;
mod page;
mod timings;
mod who;

pub use instructor::{announce_instructor_view, instructor_view_url};
pub use who::{BrowserLearner, Instructor, Learner, WantsHtml};

/// The cookie that remembers a browser's learner, as a credential
/// (`name:key`, see [`crate::workshop::Credential`]).
pub const LEARNER_COOKIE: &str = "cachelab_learner";
/// The header a curl learner sends their credential in (`?learner=` works too).
pub const LEARNER_HEADER: &str = "X-Learner";
/// The header that carries the instructor key (`?key=` works too).
pub const INSTRUCTOR_HEADER: &str = "X-Instructor-Key";

pub fn routes() -> Vec<Route> {
    routes![
        page::exercises_page,
        page::rename,
        page::my_progress,
        timings::report_timings,
        instructor::instructor_view,
        instructor::progress_json
    ]
}
