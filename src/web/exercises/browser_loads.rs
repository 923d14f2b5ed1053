//! The HTTP cache page's account of its loads: the one thing the app cannot
//! see for itself, because a load the browser answers from its own cache
//! sends no request.

use rocket::serde::json::{json, Value};
use serde::Deserialize;

use super::*;

/// The most loads one report may count: far more than a learner presses
/// *Load*, few enough that a report is one small event.
const MOST_LOADS: u32 = 1_000;

/// What the page read from the browser's performance timeline.
#[derive(Deserialize)]
pub(super) struct LoadsReport {
    /// Loads the page made of the resource since it last reported.
    loads: u32,
    /// Of those, the ones the browser answered from its own cache (a
    /// resource timing entry with a body but no bytes transferred).
    from_cache: u32,
}

/// `POST /http-cache/resource/<name>/loads`: records, for a named learner,
/// how many loads of their resource the browser answered by itself. The
/// browser-cache exercise checks it against the requests that did reach
/// the app (see `crate::workshop`).
#[post("/http-cache/resource/<name>/loads", data = "<report>")]
pub(super) fn report_loads(
    _from: SameOriginChange,
    name: &str,
    report: Result<Json<LoadsReport>, rocket::serde::json::Error<'_>>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let learner = learner?;
    let report = report.map_err(|refused| {
        let why = match refused {
            rocket::serde::json::Error::Io(error) => format!("the body could not be read: {error}"),
            rocket::serde::json::Error::Parse(_, error) => {
                format!("the body is not the report this page sends: {error}")
            }
        };
        ApiError::new(Status::BadRequest, why).accepting(format!(
            "JSON {{\"loads\": 1 to {MOST_LOADS}, \"from_cache\": at most loads}}"
        ))
    })?;
    let name = crate::web::http_lab::resource_name(name)?;
    let LoadsReport { loads, from_cache } = report.into_inner();
    if loads == 0 || loads > MOST_LOADS || from_cache > loads {
        return Err(ApiError::new(
            Status::UnprocessableEntity,
            format!("{loads} loads of which {from_cache} from the cache cannot be"),
        )
        .accepting(format!(
            "{{\"loads\": 1 to {MOST_LOADS}, \"from_cache\": at most loads}}"
        )));
    }
    let Learner(Some(learner)) = learner else {
        return Ok(Json(json!({ "recorded": false })));
    };
    lab.workshop().record(
        &learner,
        What::BrowserLoads {
            name: name.to_string(),
            loads,
            from_cache,
        },
    );
    Ok(Json(json!({ "recorded": true })))
}
