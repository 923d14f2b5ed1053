//! `/speed`: the speed table, which reads one value from each place that can
//! hold it and shows the median and 99th percentile of each, with a bar
//! chart on a logarithmic axis. The measuring is `crate::speed`'s; this
//! file turns requests into measurements and reports into pages.

use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::{Header, Status};
use rocket::response::Redirect;
use rocket::serde::json::Json;
use rocket::{get, post, routes, uri, Either, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::lab::Lab;
use crate::redis_tier::Health;
use crate::speed::{
    Place, PlaceTiming, Places, RedisPlace, RedisTarget, Runs, SpeedLab, SpeedReport, MAX_RUNS,
    MIN_RUNS,
};
use crate::web::errors::{ApiError, Refusal};
use crate::web::guards::{SameOriginChange, WantsHtml};
use crate::web::render::render;
use crate::web::NotStored;

/// How long the browser may keep the value it times (`/speed/value/...`):
/// long enough for the second load to come from its cache for sure.
const BROWSER_MAX_AGE_SECS: u64 = 600;

/// Mounts the routes and manages the measurements' state.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("speed table", |rocket| async {
        rocket.manage(SpeedLab::default()).mount("/", routes())
    })
}

fn routes() -> Vec<Route> {
    routes![speed_page, speed_json, run, browser_value]
}

/// `GET /speed`: the latest measurement, and the form that starts one.
#[get("/speed")]
fn speed_page(lab: &State<Lab>, speed: &State<SpeedLab>) -> Template {
    page(lab, speed.latest().as_deref())
}

/// `GET /speed.json`: the latest measurement; `POST /speed/run` makes one.
#[get("/speed.json")]
fn speed_json(speed: &State<SpeedLab>) -> Result<NotStored<Json<SpeedReport>>, ApiError> {
    speed
        .latest()
        .map(|report| NotStored::new(Json(SpeedReport::clone(&report))))
        .ok_or_else(|| {
            ApiError::new(
                Status::NotFound,
                "nothing measured yet: POST /speed/run starts a measurement",
            )
        })
}

/// The form, and curl's `-d runs=...`. Every field is text, so that a bad
/// number is refused with a message rather than taken for "no number".
#[derive(FromForm)]
struct RunForm {
    runs: Option<String>,
}

/// `POST /speed/run`: measures every place. A browser is sent back to
/// `/speed` to see it; anyone else gets the report as JSON. While a
/// measurement runs, another is refused at once with 409.
#[post("/speed/run", data = "<form>")]
async fn run(
    _from: SameOriginChange,
    wants_html: WantsHtml,
    form: Option<Form<RunForm>>,
    lab: &State<Lab>,
    speed: &State<SpeedLab>,
) -> Result<Either<Redirect, NotStored<Json<SpeedReport>>>, Refusal> {
    let refuse = |error| Refusal::for_client(wants_html.0, error);
    let runs = match form.and_then(|form| form.into_inner().runs) {
        None => Runs::default(),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("runs must be a whole number, not {:?}", text.trim()))
            .and_then(Runs::parse)
            .map_err(|message| {
                refuse(
                    ApiError::new(Status::UnprocessableEntity, message)
                        .accepting(format!("runs from {MIN_RUNS} to {MAX_RUNS}")),
                )
            })?,
    };
    let report = speed.measure(runs, places(lab)).await.map_err(|_busy| {
        refuse(ApiError::new(
            Status::Conflict,
            "a measurement is already running: two at once would share the machine and time \
             each other. Try again in a moment.",
        ))
    })?;
    if wants_html.0 {
        Ok(Either::Left(Redirect::to(uri!(speed_page))))
    } else {
        Ok(Either::Right(NotStored::new(Json(SpeedReport::clone(
            &report,
        )))))
    }
}

/// Where this app's measurement reads from: a folder beside `cache_dir`,
/// and Redis when the shared tier is up.
fn places(lab: &Lab) -> Places {
    let config = lab.config();
    let redis = match (lab.shared().health(), &config.redis_url) {
        (Health::Off, _) | (_, None) => RedisPlace::Off,
        (Health::Up, Some(url)) => RedisPlace::Up(RedisTarget {
            url: url.clone(),
            key: format!(
                "cachelab:speed:{}:{}",
                config.instance_name,
                std::process::id()
            ),
            timeout: lab.shared().timeout(),
        }),
        (Health::Connecting | Health::Down, Some(_)) => RedisPlace::Down,
    };
    Places {
        dir: config.speed_dir(),
        redis,
    }
}

/// The value, for the browser to time from its own cache: `private` (only
/// this browser keeps it) with a `max-age`, so the second load of the same
/// address never leaves the browser. `token` makes each measurement's
/// addresses new, so the first load of each is never cached already.
#[get("/speed/value/<token>")]
fn browser_value(token: &str, speed: &State<SpeedLab>) -> Result<BrowserValue, ApiError> {
    if token.is_empty()
        || token.len() > 64
        || !token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(ApiError::new(
            Status::NotFound,
            "a value's address ends in up to 64 letters, digits or dashes",
        ));
    }
    Ok(BrowserValue {
        body: speed.value().to_vec(),
        cache_control: Header::new(
            "Cache-Control",
            format!("private, max-age={BROWSER_MAX_AGE_SECS}"),
        ),
    })
}

/// The value as text, with the lifetime the browser may keep it for.
#[derive(rocket::Responder)]
#[response(content_type = "text/plain")]
struct BrowserValue {
    body: Vec<u8>,
    cache_control: Header<'static>,
}

#[derive(Serialize)]
struct SpeedPage<'a> {
    factorial_of: u64,
    report: Option<&'a SpeedReport>,
    rows: Vec<RowView>,
    chart: SpeedChart,
    measured_at: Option<String>,
    redis_configured: bool,
    default_runs: usize,
    min_runs: usize,
    max_runs: usize,
    browser_max_age_secs: u64,
}

fn page(lab: &Lab, report: Option<&SpeedReport>) -> Template {
    let rows: Vec<RowView> = report
        .map(|report| report.places.iter().map(RowView::of).collect())
        .unwrap_or_default();
    let content = SpeedPage {
        factorial_of: crate::speed::FACTORIAL_OF,
        report,
        chart: SpeedChart::of(&rows),
        rows,
        measured_at: report.map(|report| crate::view::clock_utc(report.measured_at_ms)),
        redis_configured: lab.shared().is_configured(),
        default_runs: crate::speed::DEFAULT_RUNS,
        min_runs: MIN_RUNS,
        max_runs: MAX_RUNS,
        browser_max_age_secs: BROWSER_MAX_AGE_SECS,
    };
    render(
        "speed",
        "Speed table: the same value from each place",
        None,
        content,
    )
}

/// One row of the table, with its numbers in words.
#[derive(Serialize)]
struct RowView {
    /// The place's id (`memory`, `disk_page_cache`, ...), for the template's
    /// wording.
    place: Place,
    /// The CSS class that gives the place its colour on every page.
    tier: &'static str,
    median: Option<String>,
    p99: Option<String>,
    median_ns: Option<u64>,
    p99_ns: Option<u64>,
    runs: Option<usize>,
    problem: Option<String>,
    residency: Option<crate::speed::ResidencyTally>,
}

impl RowView {
    fn of(row: &PlaceTiming) -> Self {
        let summary = row.summary;
        Self {
            place: row.place,
            tier: tier_class(row.place),
            median: summary.map(|summary| duration_text(summary.median_ns)),
            p99: summary.map(|summary| duration_text(summary.p99_ns)),
            median_ns: summary.map(|summary| summary.median_ns),
            p99_ns: summary.map(|summary| summary.p99_ns),
            runs: summary.map(|summary| summary.runs),
            problem: row.problem.clone(),
            residency: row.residency.clone(),
        }
    }
}

/// The colour class a place shares with the dashboard's marks.
fn tier_class(place: Place) -> &'static str {
    match place {
        Place::Memory => "tier-memory",
        Place::DiskPageCache | Place::DiskEvicted => "tier-disk",
        Place::Redis => "tier-redis",
        Place::Compute => "tier-compute",
    }
}

/// `0.31 µs`, `42 µs`, `1.8 ms`: three significant figures at most, in
/// the unit that keeps the number small.
fn duration_text(nanos: u64) -> String {
    let micros = nanos as f64 / 1000.0;
    if micros < 10.0 {
        format!("{micros:.2} µs")
    } else if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 10_000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

/// The bar chart's geometry: one bar per row for its median, a mark at its
/// p99, on a logarithmic axis from 0.1 µs to 100 ms. The places differ by
/// thousands of times: on a linear axis the fast ones would not show.
#[derive(Serialize)]
struct SpeedChart {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    /// The axis in nanoseconds: 10^lowest_log10_ns at `left`, `decades`
    /// tenfold steps to `right` (the page's script places the browser's
    /// bar with these).
    lowest_log10_ns: f64,
    decades: f64,
    ticks: Vec<ChartTick>,
    bars: Vec<ChartBar>,
    /// Where the script draws the browser's bar.
    browser_y: f64,
    bar_height: f64,
}

#[derive(Serialize)]
struct ChartTick {
    x: f64,
    label: &'static str,
}

#[derive(Serialize)]
struct ChartBar {
    y: f64,
    width: f64,
    p99_x: f64,
    tier: &'static str,
    place: Place,
    median: String,
    p99: String,
}

const CHART_WIDTH: f64 = 720.0;
const CHART_LEFT: f64 = 16.0;
const CHART_RIGHT: f64 = CHART_WIDTH - 16.0;
const CHART_TOP: f64 = 12.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 12.0;
/// 0.1 µs.
const LOWEST_LOG10_NS: f64 = 2.0;
const DECADES: f64 = 6.0;
const TICK_LABELS: [&str; 7] = [
    "0.1 µs", "1 µs", "10 µs", "0.1 ms", "1 ms", "10 ms", "100 ms",
];

impl SpeedChart {
    fn of(rows: &[RowView]) -> Self {
        let row_y = |index: usize| CHART_TOP + (BAR_HEIGHT + BAR_GAP) * index as f64;
        let bars: Vec<ChartBar> = rows
            .iter()
            .filter_map(|row| Some((row, row.median_ns?, row.p99_ns?)))
            .enumerate()
            .map(|(index, (row, median_ns, p99_ns))| ChartBar {
                y: row_y(index),
                width: round1(x_for_nanos(median_ns) - CHART_LEFT),
                p99_x: round1(x_for_nanos(p99_ns)),
                tier: row.tier,
                place: row.place,
                median: duration_text(median_ns),
                p99: duration_text(p99_ns),
            })
            .collect();
        let browser_y = row_y(bars.len());
        let height = browser_y + BAR_HEIGHT + BAR_GAP + 24.0;
        let ticks = TICK_LABELS
            .iter()
            .enumerate()
            .map(|(decade, label)| ChartTick {
                x: round1(CHART_LEFT + (CHART_RIGHT - CHART_LEFT) * decade as f64 / DECADES),
                label,
            })
            .collect();
        Self {
            width: CHART_WIDTH,
            height,
            left: CHART_LEFT,
            right: CHART_RIGHT,
            lowest_log10_ns: LOWEST_LOG10_NS,
            decades: DECADES,
            ticks,
            bars,
            browser_y,
            bar_height: BAR_HEIGHT,
        }
    }
}

/// Where `nanos` sits on the axis; off either end, at that end.
fn x_for_nanos(nanos: u64) -> f64 {
    let decades_in = ((nanos.max(1) as f64).log10() - LOWEST_LOG10_NS).clamp(0.0, DECADES);
    CHART_LEFT + (CHART_RIGHT - CHART_LEFT) * decades_in / DECADES
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenfold_slower_place_is_one_step_longer() {
        let step = (CHART_RIGHT - CHART_LEFT) / DECADES;
        assert!((x_for_nanos(10_000) - x_for_nanos(1_000) - step).abs() < 1e-9);
        assert_eq!(x_for_nanos(1), CHART_LEFT);
        assert_eq!(x_for_nanos(u64::MAX), CHART_RIGHT);
    }

    #[test]
    fn durations_read_in_the_unit_that_keeps_them_small() {
        assert_eq!(duration_text(310), "0.31 µs");
        assert_eq!(duration_text(42_400), "42 µs");
        assert_eq!(duration_text(1_830_000), "1.83 ms");
        assert_eq!(duration_text(12_300_000), "12.3 ms");
    }
}
