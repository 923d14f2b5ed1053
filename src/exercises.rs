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

/// The cookie that remembers a browser's learner, as a credential
/// (`name:key`, see [`crate::workshop::Credential`]).
pub const LEARNER_COOKIE: &str = "cachelab_learner";
/// The header a curl learner sends their credential in (`?learner=` works too).
pub const LEARNER_HEADER: &str = "X-Learner";
/// The header that carries the instructor key (`?key=` works too).
pub const INSTRUCTOR_HEADER: &str = "X-Instructor-Key";

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
fn running_lab<'r>(request: &'r Request<'_>) -> Result<&'r Lab, ApiError> {
    request
        .rocket()
        .state::<Lab>()
        .ok_or_else(|| ApiError::new(Status::InternalServerError, "the workshop is not running"))
}

/// The answer to a credential that proves no learner. Nothing is recorded
/// for anyone: the request never reaches its handler's work.
fn credential_refused(refusal: CredentialRefusal) -> ApiError {
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
fn cookie_learner(request: &Request<'_>, lab: &Lab) -> Option<LearnerName> {
    let cookie = request.cookies().get(LEARNER_COOKIE)?;
    lab.workshop().identify(cookie.value()).ok()
}

/// A browser's learner: the one its cookie proves, or a new friendly name
/// (remembered in the cookie with its key) on its first visit. A cookie
/// that proves nothing (made up, from another room, from before names had
/// keys) is treated as no cookie.
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
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let lab = match running_lab(request) {
            Ok(lab) => lab,
            Err(error) => return Outcome::Error((error.status, error)),
        };
        let learner = match cookie_learner(request, lab) {
            Some(name) => BrowserLearner {
                name,
                returning: true,
            },
            None => {
                let name = lab.workshop().fresh_name();
                request
                    .cookies()
                    .add(learner_cookie(&lab.workshop().credential_for(&name)));
                BrowserLearner {
                    name,
                    returning: false,
                }
            }
        };
        Outcome::Success(learner)
    }
}

/// Kept for a year: a workshop may span days.
fn learner_cookie(credential: &Credential) -> Cookie<'static> {
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
    key: InstructorKey,
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
        credential: lab.workshop().credential_for(learner).to_string(),
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
/// progress moves with them, and the cookie gets the new name's key. Only
/// the learner the cookie proves can be renamed: a browser whose cookie
/// proves nothing is a new learner, with no progress to take along.
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
            request_cookies.add(learner_cookie(&lab.workshop().credential_for(&new_name)));
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
    /// So that the page's own links (to the JSON) keep working.
    instructor_key: String,
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

/// Where the instructor's view is, with its key: what the binary prints
/// once it listens. An address that means "every interface" (`0.0.0.0`,
/// `::`) becomes `localhost`, which a browser on the machine running the
/// app can open.
pub fn instructor_view_url(config: &rocket::Config, key: &InstructorKey) -> String {
    let host = if config.address.is_unspecified() {
        format!("localhost:{}", config.port)
    } else {
        std::net::SocketAddr::new(config.address, config.port).to_string()
    };
    format!(
        "http://{host}{}?key={}",
        uri!(instructor_view),
        key.as_str()
    )
}

/// Prints one line, `Instructor view: <link with the key>`, once the
/// server listens (on the port it really got).
///
/// Printed under every profile, not only `workshop`: the view is locked
/// under all of them, and this line is where its key is found (Rocket's
/// own start-up lines are off in release builds). Printed to standard
/// output by the binary only, so tests that build the app stay quiet.
pub fn announce_instructor_view() -> AdHoc {
    AdHoc::on_liftoff("instructor view link", |rocket| {
        Box::pin(async move {
            if let Some(lab) = rocket.state::<Lab>() {
                println!(
                    "Instructor view: {}",
                    instructor_view_url(rocket.config(), lab.instructor_key())
                );
            }
        })
    })
}

/// `GET /exercises/progress`: the room at a glance, for the instructor.
#[get("/exercises/progress")]
fn instructor_view(
    lab: &State<Lab>,
    instructor: Result<Instructor, ApiError>,
    wants: WantsHtml,
    flash: Option<FlashMessage<'_>>,
) -> Result<Template, Refusal> {
    let instructor = instructor.map_err(|error| Refusal::for_client(wants.0, error))?;
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
        instructor_key: instructor.key.as_str().to_owned(),
    };
    Ok(render("progress", "Workshop progress", flash, content))
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
fn progress_json(
    lab: &State<Lab>,
    instructor: Result<Instructor, ApiError>,
    wants: WantsHtml,
) -> Result<Json<ProgressDocument>, Refusal> {
    instructor.map_err(|error| Refusal::for_client(wants.0, error))?;
    Ok(Json(ProgressDocument {
        exercises: headings(),
        learners: lab
            .workshop()
            .all_progress()
            .into_iter()
            .map(LearnerDocument::from)
            .collect(),
    }))
}
