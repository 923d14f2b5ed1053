//! `POST /sizing/replay`: the sizing page's trace replayed through a
//! private memory tier of the learner's capacity, beside what the
//! simulations predicted for it. A form from the page gets the page back,
//! with the result; curl's JSON gets JSON.

use rocket::data::{self, Data, FromData};
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::serde::json::Json;
use rocket::{post, Responder, State};
use rocket_dyn_templates::Template;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::lab::Lab;
use crate::sizing::{
    self, LiveReplay, Prediction, RawSettings, ReplayGate, SettingError, SettingLimits,
    SizingSettings, Workload, MAX_REPLAY_STEPS,
};
use crate::web::errors::{ApiError, Refusal};
use crate::web::fields_body::read_fields;
use crate::web::guards::{Learner, SameOriginChange, WantsHtml};
use crate::web::render::BaseUrl;
use crate::web::NotStored;
use crate::workshop::{SizingReplayEvent, What};

/// A replay's settings are five short numbers: anything longer is a mistake.
const MAX_BODY_BYTES: u64 = 1024;

/// The fields of a JSON object, or of a form (whose values are strings),
/// each as the text a setting is parsed from.
pub struct ReplayBody {
    fields: Map<String, Value>,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for ReplayBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_fields(
            request,
            data,
            MAX_BODY_BYTES,
            "a JSON object such as {\"skew\": 1, \"keys\": 200, \"requests\": 2000, \
                 \"target\": 80, \"capacity\": 120} with Content-Type: application/json, \
                 or the form on /sizing",
        )
        .await
        {
            Ok(fields) => data::Outcome::Success(ReplayBody { fields }),
            Err(refused) => data::Outcome::Error(refused),
        }
    }
}

impl ReplayBody {
    /// A field as text: a form's string, or a JSON number or string; `None`
    /// when it is missing or empty. Anything else (a list, `true`) becomes
    /// its JSON text, which the setting's parser then refuses by name.
    fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            Value::String(text) if text.trim().is_empty() => None,
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The settings and the capacity, each checked against `limits`.
    pub fn parse(&self, limits: SettingLimits) -> Result<(SizingSettings, usize), SettingError> {
        let (skew, keys, requests, target, capacity) = (
            self.text("skew"),
            self.text("keys"),
            self.text("requests"),
            self.text("target"),
            self.text("capacity"),
        );
        let settings = SizingSettings::parse(
            RawSettings {
                skew: skew.as_deref(),
                keys: keys.as_deref(),
                trace_length: requests.as_deref(),
                target_percent: target.as_deref(),
            },
            limits,
        )?;
        let capacity = sizing::parse_capacity(capacity.as_deref(), limits)?;
        Ok((settings, capacity))
    }

    /// What was typed, for the page's boxes after a refusal.
    pub fn typed(&self, name: &str) -> Option<String> {
        self.text(name)
    }
}

/// One replay, with the predictions it is held to.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub settings: SizingSettings,
    pub capacity: u64,
    /// What the private memory tier did.
    pub live: LiveReplay,
    pub live_hit_ratio: f64,
    /// What the simulations said it would do.
    pub predicted: Prediction,
    /// Whether the live hits equal the memory tier curve's prediction,
    /// as a sequential replay must.
    pub matches_prediction: bool,
    pub target_reached: bool,
    /// The learner the replay was recorded for (`None`: nobody said who).
    pub recorded_for: Option<String>,
}

/// A replay's answer: JSON for curl, the sizing page for a browser's form.
#[derive(Responder)]
pub enum Replayed {
    Json(NotStored<Json<ReplayReport>>),
    Page(NotStored<(Status, Template)>),
}

/// A 429 with `Retry-After` (RFC 9110 §10.2.3): another replay is running.
#[derive(Responder)]
pub struct RetryLater {
    refusal: Refusal,
    retry_after: Header<'static>,
}

/// Every way a replay can be turned down.
#[derive(Responder)]
pub enum NotReplayed {
    Busy(RetryLater),
    Refused(Refusal),
    /// The page again, with the refusal beside the replay form.
    Page(NotStored<(Status, Template)>),
}

fn setting_refusal(error: &SettingError) -> ApiError {
    ApiError::new(Status::BadRequest, error.message.clone()).accepting(error.accepted.clone())
}

/// `POST /sizing/replay` with `{"skew": 1, "keys": 200, "requests": 2000,
/// "target": 80, "capacity": 120}` (or the page's form). Every setting but
/// the capacity may be left out and takes the page's default.
#[allow(clippy::too_many_arguments)]
#[post("/sizing/replay", data = "<body>")]
pub async fn replay(
    _from: SameOriginChange,
    body: Result<ReplayBody, ApiError>,
    lab: &State<Lab>,
    gate: &State<ReplayGate>,
    learner: Result<Learner, ApiError>,
    wants_html: WantsHtml,
    base_url: BaseUrl,
) -> Result<Replayed, NotReplayed> {
    let wants_html = wants_html.0;
    let refuse = |error: ApiError| NotReplayed::Refused(Refusal::for_client(wants_html, error));
    let learner = learner.map_err(refuse)?.0;
    let body = body.map_err(refuse)?;
    let limits = SettingLimits::for_max_factorial(lab.config().max_factorial);
    let (settings, capacity) = match body.parse(limits) {
        Ok(parsed) => parsed,
        Err(refused) if wants_html => {
            let page = super::refused_replay_page(lab, base_url, &body, &refused)
                .await
                .map_err(refuse)?;
            return Err(NotReplayed::Page(NotStored::new((
                Status::BadRequest,
                page,
            ))));
        }
        Err(refused) => return Err(refuse(setting_refusal(&refused))),
    };
    let Some(_running) = gate.try_start() else {
        return Err(NotReplayed::Busy(RetryLater {
            refusal: Refusal::for_client(
                wants_html,
                ApiError::new(
                    Status::TooManyRequests,
                    "another replay is running in this app; each one keeps a CPU busy, so \
                     they take turns: try again in a second",
                ),
            ),
            retry_after: Header::new("Retry-After", "1"),
        }));
    };
    let (predicted, requests) = rocket::tokio::task::spawn_blocking(move || {
        let workload = Workload::generate(settings.keys, settings.skew, settings.trace_length);
        (
            sizing::predict(settings, capacity),
            workload.requested_inputs(),
        )
    })
    .await
    .map_err(|failure| {
        log::error!("sizing prediction failed: {failure}");
        refuse(ApiError::new(
            Status::InternalServerError,
            "the prediction stopped before it finished",
        ))
    })?;
    if predicted.memory_tier_steps_multiplied > MAX_REPLAY_STEPS {
        let refused = SettingError {
            parameter: "capacity",
            message: format!(
                "at {capacity} entries the memory tier would forget its steps and multiply \
                 {} of them again and again, more than the {MAX_REPLAY_STEPS} one replay may",
                predicted.memory_tier_steps_multiplied
            ),
            accepted: "a larger capacity (the memory tier curve shows how few hits a tier \
                       this small gets anyway), or fewer keys or requests"
                .to_owned(),
        };
        if wants_html {
            let page = super::refused_replay_page(lab, base_url, &body, &refused)
                .await
                .map_err(refuse)?;
            return Err(NotReplayed::Page(NotStored::new((
                Status::BadRequest,
                page,
            ))));
        }
        return Err(refuse(setting_refusal(&refused)));
    }
    let live = sizing::replay_through_memory_tier(requests, capacity)
        .await
        .map_err(|failure| {
            log::error!("sizing replay failed: {failure}");
            refuse(ApiError::new(
                Status::InternalServerError,
                "the replay stopped before it finished",
            ))
        })?;
    let live_hit_ratio = live.hits as f64 / live.requests.max(1) as f64;
    let target_reached = live.hits * 100 >= u64::from(settings.target_percent) * live.requests;
    if let Some(learner) = &learner {
        lab.workshop().record(
            learner,
            What::SizingReplay(SizingReplayEvent {
                skew: settings.skew,
                keys: settings.keys as u64,
                requests: live.requests,
                target_percent: settings.target_percent,
                capacity: capacity as u64,
                hits: live.hits,
                smallest_reaching: predicted.smallest_memory_tier_for_target,
            }),
        );
    }
    let report = ReplayReport {
        settings,
        capacity: capacity as u64,
        matches_prediction: live.hits == predicted.memory_tier_hits,
        live,
        live_hit_ratio,
        predicted,
        target_reached,
        recorded_for: learner.as_ref().map(ToString::to_string),
    };
    if wants_html {
        let page = super::replayed_page(lab, base_url, report)
            .await
            .map_err(refuse)?;
        Ok(Replayed::Page(NotStored::new((Status::Ok, page))))
    } else {
        Ok(Replayed::Json(NotStored::new(Json(report))))
    }
}
