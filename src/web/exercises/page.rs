//! The exercise page, and a browser learner choosing their name.

use super::*;
use crate::web::guards::{learner_cookie, ThroughProxy};
use crate::workshop::{Credential, HttpLesson};

#[derive(Serialize)]
pub(super) struct ExerciseView {
    slug: &'static str,
    number: usize,
    title: &'static str,
    done: bool,
    evidence: Option<String>,
    at: Option<String>,
}

#[derive(Serialize)]
pub(super) struct EventView {
    at: String,
    text: String,
}

#[derive(Serialize)]
pub(super) struct ExercisesPage {
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
    /// This learner's own HTTP lab resources, one per HTTP exercise.
    http: HttpInputs,
    /// Whether the app runs behind the shared cache that reports what it
    /// receives: without it, the shared-cache exercise cannot be done here.
    shared_cache: bool,
    /// Whether this page came through that cache (or was opened on the
    /// app's own address, past it).
    through_proxy: bool,
    /// This learner's numbers for the exercises with several instances.
    instances: InstanceInputs,
    /// Whether this instance shares a Redis tier with others: without one,
    /// the last three of those exercises cannot be done.
    shared_tier: bool,
    /// This instance's name, as `X-Instance` gives it.
    instance_name: String,
    timings_form: TimingsFormView,
}

/// A learner's numbers for the exercises with several instances (done from
/// a terminal only, so one of each).
#[derive(Serialize)]
pub(super) struct InstanceInputs {
    per_process: u64,
    shared_hit: u64,
    clear_reaches: u64,
    outage: u64,
}

impl InstanceInputs {
    fn new(plan: &Plan) -> Self {
        Self {
            per_process: plan.per_process(),
            shared_hit: plan.shared_hit(),
            clear_reaches: plan.clear_reaches(),
            outage: plan.outage(),
        }
    }
}

/// The names of a learner's HTTP lab resources (see `crate::http_lab`).
#[derive(Serialize)]
pub(super) struct HttpInputs {
    browser_cache: String,
    revalidation: String,
    no_store: String,
    shared: String,
}

impl HttpInputs {
    fn new(plan: &Plan) -> Self {
        Self {
            browser_cache: plan.resource(HttpLesson::BrowserCache),
            revalidation: plan.resource(HttpLesson::Revalidation),
            no_store: plan.resource(HttpLesson::NoStoreVersusNoCache),
            shared: plan.resource(HttpLesson::SharedCache),
        }
    }
}

/// One way through the exercises (browser or curl): its inputs.
#[derive(Serialize)]
pub(super) struct PathInputs {
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
pub(super) struct TimingsFormView {
    pub(super) miss_ms: String,
    pub(super) hit_ms: String,
    pub(super) miss_error: Option<String>,
    pub(super) hit_error: Option<String>,
    /// Both parsed, but they are not this learner's measurements.
    pub(super) mismatch: Option<String>,
}

pub(super) fn exercise_views(progress: &LearnerProgress) -> Vec<ExerciseView> {
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
pub(super) fn exercises_page(
    lab: &State<Lab>,
    learner: BrowserLearner,
    base_url: BaseUrl,
    through_proxy: ThroughProxy,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    let content = exercises_content(
        lab,
        &learner.name,
        learner.offered.as_ref(),
        (base_url, through_proxy),
        TimingsFormView::default(),
    );
    render("exercises", "Workshop exercises", flash, content)
}

/// The exercise page's content for `learner`, whose credential is the one
/// just `offered` to a new browser, or the one that holds their name.
pub(super) fn exercises_content(
    lab: &Lab,
    learner: &LearnerName,
    offered: Option<&Credential>,
    (base_url, through_proxy): (BaseUrl, ThroughProxy),
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
            text: evidence::describe(&event),
        })
        .collect();
    let config = lab.config();
    let plan = lab.workshop().plan(learner);
    ExercisesPage {
        learner: learner.to_string(),
        credential: offered
            .cloned()
            .or_else(|| lab.workshop().credential_of(learner))
            .map(|credential| credential.to_string())
            .unwrap_or_default(),
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
        http: HttpInputs::new(&plan),
        shared_cache: config.proxy_witness_key.is_some(),
        through_proxy: through_proxy.0,
        instances: InstanceInputs::new(&plan),
        shared_tier: lab.shared().is_configured(),
        instance_name: config.instance_name.to_string(),
        timings_form,
    }
}

#[derive(FromForm)]
pub(super) struct RenameForm {
    name: String,
}

/// `POST /exercises/name`: a browser learner picks their own name; their
/// progress moves with them, and the cookie gets the new name's key. Only
/// the learner the cookie proves can be renamed: a browser whose cookie
/// proves nothing is a new learner, with no progress to take along.
#[post("/exercises/name", data = "<form>")]
pub(super) fn rename(
    _from: SameOriginChange,
    form: Form<RenameForm>,
    lab: &State<Lab>,
    learner: BrowserLearner,
    request_cookies: &rocket::http::CookieJar<'_>,
) -> Flash<Redirect> {
    let back = Redirect::to(uri!(exercises_page));
    let new_name = match LearnerName::parse(&form.name) {
        Ok(name) => name,
        Err(reason) => return Flash::error(back, reason),
    };
    match lab.workshop().rename(&learner.name, &new_name) {
        Ok(credential) => {
            request_cookies.add(learner_cookie(&credential));
            Flash::success(back, format!("You are now {new_name}."))
        }
        Err(reason) => Flash::error(back, reason),
    }
}

/// A learner's own progress, for curl.
#[derive(Serialize)]
pub(super) struct MyProgress {
    name: String,
    done: usize,
    total: usize,
    /// In the order they are taught, each with its evidence once done.
    exercises: Vec<ExerciseView>,
    /// The last requests the app saw from this learner, newest first.
    recent: Vec<EventView>,
}

/// `GET /exercises/me`: a learner's own ticks with their evidence, and
/// their last requests as the app saw them: what a curl learner has
/// instead of the exercise page. Indented, with a final newline, because
/// a person reads it in a terminal.
#[get("/exercises/me")]
pub(super) fn my_progress(
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<(rocket::http::ContentType, String), ApiError> {
    let Learner(Some(learner)) = learner? else {
        return Err(
            ApiError::new(Status::BadRequest, "say who you are, to see your progress").accepting(
                format!("an {LEARNER_HEADER} header, or ?learner=<your name>:<your key>"),
            ),
        );
    };
    let progress = lab.workshop().progress_of(&learner);
    let recent = lab
        .workshop()
        .recent_events(&learner, 8)
        .into_iter()
        .map(|event| EventView {
            at: crate::view::clock_utc(event.at_ms),
            text: evidence::describe(&event),
        })
        .collect();
    let mine = MyProgress {
        name: progress.name.clone(),
        done: progress.done,
        total: progress.total,
        exercises: exercise_views(&progress),
        recent,
    };
    let mut text = serde_json::to_string_pretty(&mine).expect("progress always serializes");
    text.push('\n');
    Ok((rocket::http::ContentType::JSON, text))
}
