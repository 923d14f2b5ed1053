//! Workshop routes: the exercise page, the instructor's view, and how a
//! request says which learner sent it.

use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, SameSite, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::errors::ApiError;
use crate::guards::SameOriginChange;
use crate::lab::Lab;
use crate::pages::{render, BaseUrl};
use crate::workshop::{
    Exercise, ExercisePath, LearnerName, LearnerProgress, Plan, Reading, ReadingError,
};

mod evidence;

/// The cookie that remembers a browser's learner name.
pub const LEARNER_COOKIE: &str = "cachelab_learner";
/// The header a curl learner sends their name in (`?learner=` works too).
pub const LEARNER_HEADER: &str = "X-Learner";

pub fn routes() -> Vec<Route> {
    routes![
        exercises_page,
        rename,
        report_timings,
        instructor_view,
        progress_json
    ]
}

/// Who sent a request, if they said: the `X-Learner` header, else the
/// `learner` query parameter, else the browser's cookie. A name that is not
/// usable is refused with a 400 rather than silently ignored.
pub struct Learner(pub Option<LearnerName>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Learner {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let said = request
            .headers()
            .get_one(LEARNER_HEADER)
            .map(str::to_owned)
            .or_else(|| {
                request
                    .query_value::<&str>("learner")
                    .and_then(Result::ok)
                    .map(str::to_owned)
            });
        match said {
            Some(raw) => match LearnerName::parse(&raw) {
                Ok(name) => Outcome::Success(Learner(Some(name))),
                Err(reason) => {
                    let error = ApiError::new(Status::BadRequest, reason)
                        .accepting(format!("an {LEARNER_HEADER} header such as 'ada-lovelace'"));
                    Outcome::Error((Status::BadRequest, error))
                }
            },
            None => Outcome::Success(Learner(cookie_learner(request))),
        }
    }
}

fn cookie_learner(request: &Request<'_>) -> Option<LearnerName> {
    request
        .cookies()
        .get(LEARNER_COOKIE)
        .and_then(|cookie| LearnerName::parse(cookie.value()).ok())
}

/// A browser's learner: the name in its cookie, or a new friendly name
/// (remembered in the cookie) on its first visit.
pub struct BrowserLearner {
    pub name: LearnerName,
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
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let learner = match cookie_learner(request) {
            Some(name) => BrowserLearner {
                name,
                returning: true,
            },
            None => {
                let name = match request.rocket().state::<Lab>() {
                    Some(lab) => lab.workshop().fresh_name(),
                    None => LearnerName::generate(),
                };
                remember(request, &name);
                BrowserLearner {
                    name,
                    returning: false,
                }
            }
        };
        Outcome::Success(learner)
    }
}

fn remember(request: &Request<'_>, name: &LearnerName) {
    request.cookies().add(learner_cookie(name));
}

/// Kept for a year: a workshop may span days.
fn learner_cookie(name: &LearnerName) -> Cookie<'static> {
    // HttpOnly: no script needs it, so none can read it. SameSite=Lax: other
    // sites' forms arrive without it (and are refused anyway, see guards).
    Cookie::build((LEARNER_COOKIE, name.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(rocket::time::Duration::days(365))
        .build()
}

#[derive(Serialize)]
struct ExerciseView {
    slug: &'static str,
    number: usize,
    title: &'static str,
    done: bool,
    evidence: Option<String>,
    at: Option<String>,
}

#[derive(Serialize)]
struct EventView {
    at: String,
    text: String,
}

#[derive(Serialize)]
struct ExercisesPage {
    learner: String,
    /// What this learner sends as `X-Learner` (or `?learner=`) from curl.
    credential: String,
    learner_header: &'static str,
    base_url: String,
    done: usize,
    total: usize,
    exercises: Vec<ExerciseView>,
    status: std::collections::HashMap<&'static str, ExerciseView>,
    recent: Vec<EventView>,
    memory_capacity: usize,
    disk_ttl_secs: u64,
    cache_dir: String,
    /// This learner's own numbers and bodies: in a shared room, one
    /// learner's request must not turn another's miss into a hit. The
    /// browser and curl ways use different ones.
    browser: PathInputs,
    curl: PathInputs,
    timings_form: TimingsFormView,
}

/// One way through the exercises (browser or curl): its inputs.
#[derive(Serialize)]
struct PathInputs {
    first_hit: u64,
    memo_k: u64,
    memo_n: u64,
    lru_top: u64,
    lru_oldest: u64,
    lru_newcomer: u64,
    lru_victim: u64,
    persist_n: u64,
    persist_body: String,
    canonical: [String; 3],
    ttl_body: String,
    clearing_n: u64,
    timings_n: u64,
    stampede_n: u64,
    integrity_body: String,
}

impl PathInputs {
    fn new(plan: &Plan, path: ExercisePath) -> Self {
        let (memo_k, memo_n) = plan.memoized(path);
        let lru = plan.lru(path);
        let (persist_n, persist_body) = plan.persistence(path);
        Self {
            first_hit: plan.first_hit(path),
            memo_k,
            memo_n,
            lru_top: lru.top,
            lru_oldest: lru.oldest(),
            lru_newcomer: lru.newcomer(),
            lru_victim: lru.victim(),
            persist_n,
            persist_body,
            canonical: plan.canonical(path),
            ttl_body: plan.ttl(path),
            clearing_n: plan.clearing(path),
            timings_n: plan.timings(path),
            stampede_n: plan.stampede(path),
            integrity_body: plan.integrity(path),
        }
    }
}

/// The timings form as the learner left it: what they typed, and what was
/// wrong with it, beside each field.
#[derive(Serialize, Default)]
struct TimingsFormView {
    miss_ms: String,
    hit_ms: String,
    miss_error: Option<String>,
    hit_error: Option<String>,
    /// Both parsed, but they are not this learner's measurements.
    mismatch: Option<String>,
}

fn exercise_views(progress: &LearnerProgress) -> Vec<ExerciseView> {
    Exercise::ALL
        .iter()
        .map(|exercise| {
            let tick = progress.ticks.get(exercise.slug());
            ExerciseView {
                slug: exercise.slug(),
                number: exercise.number(),
                title: exercise.title(),
                done: tick.is_some(),
                evidence: tick.map(|tick| evidence::sentence(*exercise, &tick.evidence)),
                at: tick.map(|tick| crate::view::clock_utc(tick.at_ms)),
            }
        })
        .collect()
}

/// `GET /exercises`: every exercise, this learner's ticks and the evidence.
#[get("/exercises")]
fn exercises_page(
    lab: &State<Lab>,
    learner: BrowserLearner,
    base_url: BaseUrl,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    let content = exercises_content(lab, &learner.name, base_url, TimingsFormView::default());
    render("exercises", "Workshop exercises", flash, content)
}

fn exercises_content(
    lab: &Lab,
    learner: &LearnerName,
    base_url: BaseUrl,
    timings_form: TimingsFormView,
) -> ExercisesPage {
    let progress = lab.workshop().progress_of(learner);
    let exercises = exercise_views(&progress);
    let status = exercise_views(&progress)
        .into_iter()
        .map(|view| (view.slug, view))
        .collect();
    let recent = lab
        .workshop()
        .recent_events(learner, 8)
        .into_iter()
        .map(|event| EventView {
            at: crate::view::clock_utc(event.at_ms),
            text: evidence::describe(&event.what),
        })
        .collect();
    let config = lab.config();
    let plan = lab.workshop().plan(learner);
    ExercisesPage {
        learner: learner.to_string(),
        credential: learner.to_string(),
        learner_header: LEARNER_HEADER,
        base_url: base_url.0,
        done: progress.done,
        total: progress.total,
        exercises,
        status,
        recent,
        memory_capacity: config.memory_capacity,
        disk_ttl_secs: config.disk_ttl_secs,
        cache_dir: config.cache_dir.display().to_string(),
        browser: PathInputs::new(&plan, ExercisePath::Browser),
        curl: PathInputs::new(&plan, ExercisePath::Curl),
        timings_form,
    }
}

#[derive(FromForm)]
struct RenameForm {
    name: String,
}

/// `POST /exercises/name`: a browser learner picks their own name; their
/// progress moves with them.
#[post("/exercises/name", data = "<form>")]
fn rename(
    _from: SameOriginChange,
    form: Form<RenameForm>,
    lab: &State<Lab>,
    learner: BrowserLearner,
    request_cookies: &rocket::http::CookieJar<'_>,
) -> Flash<Redirect> {
    let back = Redirect::to("/exercises");
    let new_name = match LearnerName::parse(&form.name) {
        Ok(name) => name,
        Err(reason) => return Flash::error(back, reason),
    };
    match lab.workshop().rename(&learner.name, &new_name) {
        Ok(()) => {
            request_cookies.add(learner_cookie(&new_name));
            Flash::success(back, format!("You are now {new_name}."))
        }
        Err(reason) => Flash::error(back, reason),
    }
}

#[derive(FromForm)]
struct TimingsForm {
    miss_ms: Option<String>,
    hit_ms: Option<String>,
}

/// What a curl learner hears back after reporting timings.
#[derive(Serialize)]
struct TimingsVerdict {
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
fn report_timings(
    _from: SameOriginChange,
    form: Form<TimingsForm>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    wants: WantsHtml,
    base_url: BaseUrl,
) -> Result<TimingsReply, ApiError> {
    let Learner(Some(learner)) = learner? else {
        return Err(ApiError::new(
            Status::BadRequest,
            "say who you are, so the report counts for you",
        )
        .accepting(format!(
            "an {LEARNER_HEADER} header, or ?learner=<your name>"
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
                    exercises_content(lab, &learner, base_url, form),
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
    let matched = lab.workshop().report_timings(&learner, miss, hit);
    let tick = lab
        .workshop()
        .progress_of(&learner)
        .ticks
        .remove(Exercise::ReadingTimings.slug());
    if wants.0 {
        if let Some(evidence) = &matched {
            return Ok(TimingsReply::Page(Box::new(Flash::success(
                Redirect::to("/exercises#reading-timings"),
                format!(
                    "Checked: {}.",
                    evidence::sentence(Exercise::ReadingTimings, evidence)
                ),
            ))));
        }
        let form = TimingsFormView {
            miss_ms: shorten(&miss_ms),
            hit_ms: shorten(&hit_ms),
            mismatch: Some(mismatch_message(tick.is_some())),
            ..TimingsFormView::default()
        };
        return Ok(TimingsReply::Refused(Box::new(render(
            "exercises",
            "Workshop exercises",
            None,
            exercises_content(lab, &learner, base_url, form),
        ))));
    }
    let evidence = matched
        .as_ref()
        .or(tick.as_ref().map(|tick| &tick.evidence))
        .map(|evidence| evidence::sentence(Exercise::ReadingTimings, evidence));
    Ok(TimingsReply::Json(Json(TimingsVerdict {
        learner: learner.to_string(),
        matched: matched.is_some(),
        ticked: tick.is_some(),
        evidence: if matched.is_some() {
            evidence
        } else {
            Some(mismatch_message(tick.is_some()))
        },
    })))
}

fn mismatch_message(already_done: bool) -> String {
    let mut message = "Those numbers do not match a miss and then a hit the server measured for your own requests for this exercise's number: read both totals again, every digit.".to_owned();
    if already_done {
        message.push_str(" (The exercise stays done from your earlier report.)");
    }
    message
}

/// What was typed, kept for the form, but never a whole oversized body.
fn shorten(typed: &str) -> String {
    typed.chars().take(60).collect()
}

/// A browser's form gets a page back; curl gets JSON.
#[derive(rocket::Responder)]
enum TimingsReply {
    Page(Box<Flash<Redirect>>),
    #[response(status = 422)]
    Refused(Box<Template>),
    Json(Json<TimingsVerdict>),
}

/// Whether the client prefers a web page to data.
pub struct WantsHtml(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for WantsHtml {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(WantsHtml(crate::errors::wants_html(request)))
    }
}

#[derive(Serialize)]
struct InstructorView {
    exercises: Vec<ExerciseHeading>,
    learners: Vec<LearnerRow>,
}

#[derive(Serialize)]
struct ExerciseHeading {
    slug: &'static str,
    number: usize,
    title: &'static str,
}

#[derive(Serialize)]
struct LearnerRow {
    name: String,
    done: usize,
    total: usize,
    last_seen: String,
    ticks: Vec<Option<String>>,
}

fn headings() -> Vec<ExerciseHeading> {
    Exercise::ALL
        .iter()
        .map(|exercise| ExerciseHeading {
            slug: exercise.slug(),
            number: exercise.number(),
            title: exercise.title(),
        })
        .collect()
}

/// `GET /exercises/progress`: the room at a glance, for the instructor.
#[get("/exercises/progress")]
fn instructor_view(lab: &State<Lab>, flash: Option<FlashMessage<'_>>) -> Template {
    let learners = lab
        .workshop()
        .all_progress()
        .into_iter()
        .map(|progress| LearnerRow {
            ticks: Exercise::ALL
                .iter()
                .map(|exercise| {
                    progress
                        .ticks
                        .get(exercise.slug())
                        .map(|tick| evidence::sentence(*exercise, &tick.evidence))
                })
                .collect(),
            name: progress.name,
            done: progress.done,
            total: progress.total,
            last_seen: crate::view::clock_utc(progress.last_seen_ms),
        })
        .collect();
    let content = InstructorView {
        exercises: headings(),
        learners,
    };
    render("progress", "Workshop progress", flash, content)
}

#[derive(Serialize)]
struct ProgressDocument {
    exercises: Vec<ExerciseHeading>,
    learners: Vec<LearnerDocument>,
}

#[derive(Serialize)]
struct LearnerDocument {
    name: String,
    done: usize,
    total: usize,
    last_seen_ms: u64,
    /// Keyed by exercise slug.
    ticks: std::collections::BTreeMap<String, TickDocument>,
}

/// A tick: when, why in words, and the requests that earned it.
#[derive(Serialize)]
struct TickDocument {
    at_ms: u64,
    evidence: String,
    steps: Vec<crate::workshop::Event>,
}

impl From<LearnerProgress> for LearnerDocument {
    fn from(progress: LearnerProgress) -> Self {
        let ticks = Exercise::ALL
            .iter()
            .filter_map(|exercise| {
                let tick = progress.ticks.get(exercise.slug())?;
                Some((
                    exercise.slug().to_owned(),
                    TickDocument {
                        at_ms: tick.at_ms,
                        evidence: evidence::sentence(*exercise, &tick.evidence),
                        steps: tick.evidence.steps().to_vec(),
                    },
                ))
            })
            .collect();
        Self {
            name: progress.name,
            done: progress.done,
            total: progress.total,
            last_seen_ms: progress.last_seen_ms,
            ticks,
        }
    }
}

/// `GET /exercises/progress.json`: the same as JSON.
#[get("/exercises/progress.json")]
fn progress_json(lab: &State<Lab>) -> Json<ProgressDocument> {
    Json(ProgressDocument {
        exercises: headings(),
        learners: lab
            .workshop()
            .all_progress()
            .into_iter()
            .map(LearnerDocument::from)
            .collect(),
    })
}
