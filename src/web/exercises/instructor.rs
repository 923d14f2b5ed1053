//! The room at a glance, for the instructor: a page, its JSON, and the
//! link printed at start-up.

use super::*;

#[derive(Serialize)]
pub(super) struct InstructorView {
    exercises: Vec<ExerciseHeading>,
    learners: Vec<LearnerRow>,
    /// So that the page's own links (to the JSON) keep working.
    instructor_key: String,
}

#[derive(Serialize)]
pub(super) struct ExerciseHeading {
    slug: &'static str,
    number: usize,
    title: &'static str,
}

#[derive(Serialize)]
pub(super) struct LearnerRow {
    name: String,
    done: usize,
    total: usize,
    last_seen: String,
    ticks: Vec<Option<String>>,
}

pub(super) fn headings() -> Vec<ExerciseHeading> {
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
pub(super) fn instructor_view(
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
pub(super) struct ProgressDocument {
    exercises: Vec<ExerciseHeading>,
    learners: Vec<LearnerDocument>,
}

#[derive(Serialize)]
pub(super) struct LearnerDocument {
    name: String,
    done: usize,
    total: usize,
    last_seen_ms: u64,
    /// Keyed by exercise slug.
    ticks: std::collections::BTreeMap<String, TickDocument>,
}

/// A tick: when, why in words, and the requests that earned it.
#[derive(Serialize)]
pub(super) struct TickDocument {
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
pub(super) fn progress_json(
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
