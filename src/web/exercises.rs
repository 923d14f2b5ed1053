//! Workshop routes: the exercise page, the instructor's view, and how a
//! request says which learner sent it.

use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{get, post, routes, uri, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::lab::Lab;
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::SameOriginChange;
use crate::web::render::{render, BaseUrl};
use crate::workshop::{
    Exercise, ExercisePath, InstructorKey, LearnerName, LearnerProgress, Plan, Reading,
    ReadingError, What,
};

mod browser_loads;
mod evidence;
mod instructor;
mod page;
mod timings;

pub use crate::web::guards::{BrowserLearner, Instructor, Learner, WantsHtml};
pub use instructor::{announce_instructor_view, instructor_view_url};

pub use crate::web::guards::{INSTRUCTOR_HEADER, LEARNER_COOKIE, LEARNER_HEADER};

pub fn routes() -> Vec<Route> {
    routes![
        page::exercises_page,
        page::rename,
        page::my_progress,
        timings::report_timings,
        browser_loads::report_loads,
        instructor::instructor_view,
        instructor::progress_json
    ]
}
