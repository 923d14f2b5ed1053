//! A learner reporting the timings they read, checked against what the
//! server measured for their own requests.

use super::page::{exercises_content, TimingsFormView};
use super::*;
use crate::workshop::Report;

#[derive(FromForm)]
pub(super) struct TimingsForm {
    miss_ms: Option<String>,
    hit_ms: Option<String>,
}

/// What a curl learner hears back after reporting timings.
#[derive(Serialize)]
pub(super) struct TimingsVerdict {
    learner: String,
    /// Whether this report matched (an earlier tick does not make a wrong
    /// report right).
    matched: bool,
    /// Whether the exercise is done, by this report or an earlier one.
    ticked: bool,
    evidence: Option<String>,
}

/// `POST /exercises/timings`: the learner reports the `Server-Timing`
/// totals they read for a miss and a hit; the app compares them with what
/// it measured for that learner's own requests.
#[post("/exercises/timings", data = "<form>")]
pub(super) fn report_timings(
    _from: SameOriginChange,
    form: Form<TimingsForm>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants: WantsHtml,
    base_url: BaseUrl,
    through_proxy: crate::web::guards::ThroughProxy,
) -> Result<TimingsReply, ApiError> {
    let Learner(Some(learner)) = learner? else {
        return Err(ApiError::new(
            Status::BadRequest,
            "say who you are, so the report counts for you",
        )
        .accepting(format!(
            "an {LEARNER_HEADER} header, or ?learner=<your name>:<your key>"
        )));
    };
    let TimingsForm { miss_ms, hit_ms } = form.into_inner();
    let (miss_ms, hit_ms) = (miss_ms.unwrap_or_default(), hit_ms.unwrap_or_default());
    let (miss, hit) = (Reading::parse(&miss_ms), Reading::parse(&hit_ms));
    let (miss, hit) = match (miss, hit) {
        (Ok(miss), Ok(hit)) => (miss, hit),
        (miss, hit) => {
            let message = |field: &str, result: &Result<Reading, ReadingError>| {
                result
                    .as_ref()
                    .err()
                    .map(|error| format!("{field}: {}", error.message()))
            };
            let (miss_error, hit_error) = (message("miss_ms", &miss), message("hit_ms", &hit));
            if wants.0 {
                let form = TimingsFormView {
                    miss_error: miss_error.map(|text| text["miss_ms: ".len()..].to_owned()),
                    hit_error: hit_error.map(|text| text["hit_ms: ".len()..].to_owned()),
                    miss_ms: shorten(&miss_ms),
                    hit_ms: shorten(&hit_ms),
                    mismatch: None,
                };
                return Ok(TimingsReply::Refused(Box::new(render(
                    "exercises",
                    "Workshop exercises",
                    None,
                    exercises_content(lab, &learner, None, (base_url, through_proxy), form),
                ))));
            }
            let reason = [miss_error, hit_error]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ApiError::new(Status::UnprocessableEntity, reason).accepting(
                "miss_ms and hit_ms as read, such as miss_ms=2003.456&hit_ms=0.012 (ms by default; s and µs understood)",
            ));
        }
    };
    let report = lab.workshop().report_timings(&learner, miss, hit);
    let tick = lab
        .workshop()
        .progress_of(&learner)
        .ticks
        .remove(Exercise::ReadingTimings.slug());
    let verdict = match &report {
        Report::Matched(evidence) => evidence::sentence(Exercise::ReadingTimings, evidence),
        Report::NoMatch => not_matched_message(tick.is_some(), false),
        Report::UsedUp => not_matched_message(tick.is_some(), true),
    };
    let matched = matches!(report, Report::Matched(_));
    if wants.0 {
        if matched {
            return Ok(TimingsReply::Page(Box::new(Flash::success(
                Redirect::to(format!(
                    "{}#reading-timings",
                    uri!(super::page::exercises_page)
                )),
                format!("Checked: {verdict}."),
            ))));
        }
        let form = TimingsFormView {
            miss_ms: shorten(&miss_ms),
            hit_ms: shorten(&hit_ms),
            mismatch: Some(verdict),
            ..TimingsFormView::default()
        };
        return Ok(TimingsReply::Refused(Box::new(render(
            "exercises",
            "Workshop exercises",
            None,
            exercises_content(lab, &learner, None, (base_url, through_proxy), form),
        ))));
    }
    Ok(TimingsReply::Json(Json(TimingsVerdict {
        learner: learner.to_string(),
        matched,
        ticked: tick.is_some(),
        evidence: Some(verdict),
    })))
}

/// Why a report did not count, and what to do next.
pub(super) fn not_matched_message(already_done: bool, used_up: bool) -> String {
    let mut message = if used_up {
        "That is more than three reports about your latest miss, so it no longer counts: clear the memory cache, ask for your number twice again (a new miss and a hit), and report those two.".to_owned()
    } else {
        "Those numbers do not match a miss and then a hit the server measured for your own requests for this exercise's number: read both totals again, every digit.".to_owned()
    };
    if already_done {
        message.push_str(" (The exercise stays done from your earlier report.)");
    }
    message
}

/// What was typed, kept for the form, but never a whole oversized body.
pub(super) fn shorten(typed: &str) -> String {
    typed.chars().take(60).collect()
}

/// A browser's form gets a page back; curl gets JSON.
#[derive(rocket::Responder)]
pub(super) enum TimingsReply {
    Page(Box<Flash<Redirect>>),
    #[response(status = 422)]
    Refused(Box<Template>),
    Json(Json<TimingsVerdict>),
}
