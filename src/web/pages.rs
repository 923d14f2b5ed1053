//! The browser side: pages that explain caching and let a learner run each
//! experiment. Forms are plain HTML and work without JavaScript.

use std::time::Duration;

use rocket::form::{Form, FromForm};
use rocket::http::{Header, Status};
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri, Responder, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::canonical::{raw_fingerprint, CanonicalJson, FactorialInput};
use crate::disk::{DiskLookup, DiskStats, HitRead};
use crate::history::{self, Tier};
use crate::instances::{InstanceCounts, Instances};
use crate::lab::Lab;
use crate::memory::{MemoryLookup, MemoryStats};
use crate::view::{clock_utc, count_of, human_bytes, human_duration_ms, ratio_percent, server_ms};
use crate::web::chart::TimingChart;
use crate::web::guards::BrowserLearner;
use crate::web::guards::SameOriginChange;
use crate::web::instance::{self, InstanceColumn};
use crate::web::render::{render, BaseUrl};
use crate::web::request_start::RequestStarted;

mod wording;
use wording::{memory_detail, miss_sentence};

pub fn routes() -> Vec<Route> {
    routes![
        overview,
        memory_page,
        memory_clear,
        disk_page,
        disk_submit,
        disk_clear,
        dashboard,
        dashboard_clear,
        timing_page,
        clear_cache_page
    ]
}

#[derive(Serialize)]
struct Settings {
    memory_capacity: usize,
    max_factorial: u64,
    factorial_delay_ms: u64,
    factorial_delay_max_ms: u64,
    disk_ttl: String,
    disk_ttl_secs: u64,
    data_delay_ms: u64,
    cache_dir: String,
}

fn settings(lab: &Lab) -> Settings {
    let config = lab.config();
    Settings {
        memory_capacity: config.memory_capacity,
        max_factorial: config.max_factorial,
        factorial_delay_ms: config.factorial_delay_ms,
        factorial_delay_max_ms: config.factorial_delay_max_ms,
        disk_ttl: human_duration_ms(config.disk_ttl_secs.saturating_mul(1000)),
        disk_ttl_secs: config.disk_ttl_secs,
        data_delay_ms: config.data_delay_ms,
        cache_dir: config.cache_dir.display().to_string(),
    }
}

// Every page takes a `BrowserLearner`, so a browser gets its learner name
// (a cookie) on the first page it opens, whichever that is.

/// What the overview measured on the machine running the app, so that it
/// states this machine's figures instead of typical ones.
#[derive(Serialize)]
struct OverviewPage {
    settings: Settings,
    /// The cache part of the latest hit of each tier, if there was one.
    last_memory_hit: Option<String>,
    last_disk_hit: Option<String>,
    ram: Option<String>,
    /// The size of the file system that holds `cache_dir`.
    disk: Option<String>,
    disk_allowed: String,
}

#[get("/")]
fn overview(
    lab: &State<Lab>,
    _learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    let recent = lab.history().recent();
    let last_hit = |tier: Tier| {
        recent
            .iter()
            .rev()
            .find(|record| record.tier == tier && record.outcome == history::Outcome::Hit)
            .map(|record| server_ms(Duration::from_micros(record.elapsed_us)))
    };
    let config = lab.config();
    let content = OverviewPage {
        last_memory_hit: last_hit(Tier::Memory),
        last_disk_hit: last_hit(Tier::Disk),
        ram: crate::machine::memory_bytes().map(human_bytes),
        disk: crate::machine::file_system_of(&config.cache_dir)
            .map(|file_system| human_bytes(file_system.size_bytes)),
        disk_allowed: human_bytes(config.disk_max_bytes.as_u64()),
        settings: settings(lab),
    };
    render(
        "overview",
        "Memory and disk caching, hands on",
        flash,
        content,
    )
}

#[derive(Serialize)]
struct MemoryResult {
    n: u64,
    factorial: String,
    digits: usize,
    hit: bool,
    detail: String,
    steps_computed: u64,
    reused_from: Option<u64>,
    coalesced: bool,
    server_ms: String,
    /// A miss this request computed: the simulated wait and the real work,
    /// as measured here, so the page need not guess how fast this machine is.
    wait_ms: Option<String>,
    compute_ms: Option<String>,
}

#[derive(Serialize)]
struct MemoryPage {
    settings: Settings,
    n_input: String,
    error: Option<String>,
    accepted: Option<String>,
    result: Option<MemoryResult>,
    entries: Vec<crate::memory::MemoryEntry>,
    stats: MemoryStats,
}

/// `GET /memory?n=20`: the form, and n! when one was asked for.
#[get("/memory?<n>")]
async fn memory_page(
    started: RequestStarted,
    n: Option<&str>,
    lab: &State<Lab>,
    learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
) -> (Status, Template) {
    let n_input = n.unwrap_or("").trim().to_owned();
    let mut status = Status::Ok;
    let (mut error, mut accepted, mut result) = (None, None, None);
    if !n_input.is_empty() {
        match FactorialInput::parse(&n_input, lab.config().max_factorial) {
            Ok(input) => {
                let timed = lab.factorial(input).await;
                // The answer is ready here; drawing the page comes after
                // and is not in the time the page shows.
                let total = started.0.elapsed();
                lab.note_factorial(learner.recorded(), timed.answer.seen(), total);
                let answer = &timed.answer;
                let decimal = answer.step.decimal();
                result = Some(MemoryResult {
                    n: input.get(),
                    factorial: decimal.to_owned(),
                    digits: decimal.len(),
                    hit: answer.lookup.is_hit(),
                    detail: memory_detail(&answer.lookup, input.get()),
                    steps_computed: answer.lookup.steps_computed_here(),
                    reused_from: match answer.lookup.computation() {
                        None => Some(input.get()),
                        Some(work) => work.reused_from,
                    },
                    coalesced: answer.lookup.coalesced(),
                    server_ms: server_ms(total),
                    wait_ms: match answer.lookup {
                        MemoryLookup::Computed(work) => Some(server_ms(work.simulated_delay)),
                        _ => None,
                    },
                    compute_ms: match answer.lookup {
                        MemoryLookup::Computed(work) => Some(server_ms(work.compute_time)),
                        _ => None,
                    },
                });
            }
            Err(refused) => {
                status = Status::UnprocessableEntity;
                error = Some(refused.message(&n_input));
                accepted = Some(refused.accepted());
            }
        }
    }
    let content = MemoryPage {
        settings: settings(lab),
        n_input,
        error,
        accepted,
        result,
        entries: lab.memory().entries(),
        stats: lab.memory().stats(),
    };
    (
        status,
        render("memory", "Memory cache: factorials", flash, content),
    )
}

#[post("/memory/clear")]
async fn memory_clear(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: BrowserLearner,
) -> Flash<Redirect> {
    let removed = lab
        .clear_memory(learner.recorded(), "POST /memory/clear")
        .await;
    Flash::success(
        Redirect::to(uri!(memory_page(_))),
        format!(
            "This instance's memory cache cleared: {} removed. {}",
            count_of(removed, "entry", "entries"),
            if lab.shared().is_configured() {
                "Every other instance was told through Redis to empty its memory too (the dashboard shows each message arriving)."
            } else {
                "Any other instance of the app keeps its own copies: without a shared tier (Redis) nothing tells them."
            }
        ),
    )
}

#[derive(FromForm)]
struct DiskForm {
    body: String,
}

#[derive(Serialize)]
struct DiskResult {
    canonical: String,
    key: String,
    hit: bool,
    detail: String,
    stored: bool,
    /// For a hit: `page-cache` or `ordinary-read` (see [`HitRead`]).
    hit_read: Option<&'static str>,
    written_at: Option<String>,
    expires_at: Option<String>,
    expires_in: Option<String>,
    server_ms: String,
}

#[derive(Serialize)]
struct DiskEntryView {
    key: String,
    size: usize,
    age: String,
    time_left: Option<String>,
}

/// Which stored entries the disk page lists.
#[derive(Debug, Clone, PartialEq, Eq, FromForm)]
struct ListingQuery {
    /// Show only keys that start with this (hex digits).
    key: Option<String>,
    /// Which page of [`ENTRIES_PER_PAGE`], from 1.
    page: Option<usize>,
}

/// Every field is optional, so a link to the disk page may leave the
/// listing out (`uri!(disk_page(_))`): the newest entries, first page.
impl rocket::http::uri::fmt::Ignorable<rocket::http::uri::fmt::Query> for ListingQuery {}

/// Entries per page of the disk page's listing: enough to see eviction and
/// expiry at work, few enough that the page stays small with 50,000 stored.
const ENTRIES_PER_PAGE: usize = 100;

/// The longest key search accepted: a whole key.
const KEY_LENGTH: usize = 64;

#[derive(Serialize)]
struct EntriesListing {
    entries: Vec<DiskEntryView>,
    /// The search as typed, when it was usable.
    key_search: String,
    /// Why the search was not used, if it was not.
    search_error: Option<String>,
    /// Entries matching the search (all of them without one).
    matching: usize,
    page: usize,
    pages: usize,
    first_shown: usize,
    last_shown: usize,
}

fn entries_listing(lab: &Lab, query: &ListingQuery) -> EntriesListing {
    let typed = query.key.as_deref().unwrap_or("").trim();
    let (prefix, search_error) =
        if typed.len() <= KEY_LENGTH && typed.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            (typed.to_ascii_lowercase(), None)
        } else {
            (
                String::new(),
                Some(format!(
                    "a key is made of hex digits (0-9, a-f), at most {KEY_LENGTH} of them; \
                 showing every entry instead"
                )),
            )
        };
    let page = query.page.unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(ENTRIES_PER_PAGE);
    let found = lab.disk().entries_page(&prefix, offset, ENTRIES_PER_PAGE);
    let now = lab.clock().now_ms();
    let shown = found.entries.len();
    EntriesListing {
        entries: found
            .entries
            .into_iter()
            .map(|entry| DiskEntryView {
                age: human_duration_ms(now.saturating_sub(entry.written_at_ms)),
                time_left: (entry.expires_at_ms > now)
                    .then(|| human_duration_ms(entry.expires_at_ms - now)),
                key: entry.key,
                size: entry.size,
            })
            .collect(),
        key_search: if search_error.is_none() {
            prefix
        } else {
            String::new()
        },
        search_error,
        matching: found.matching,
        page,
        pages: found.matching.div_ceil(ENTRIES_PER_PAGE).max(1),
        first_shown: if shown == 0 { 0 } else { offset + 1 },
        last_shown: offset + shown,
    }
}

/// The disk tier's sizes as a person reads them.
#[derive(Serialize)]
struct DiskSizes {
    content: String,
    on_disk: String,
    allowed: String,
    /// What the directory occupies per stored entry, folders included.
    on_disk_per_entry: Option<String>,
    /// The answers' own size per stored entry.
    content_per_entry: Option<String>,
}

impl DiskSizes {
    fn of(stats: &DiskStats) -> Self {
        let per_entry =
            |bytes: u64| (stats.entries > 0).then(|| human_bytes(bytes / stats.entries));
        Self {
            content: human_bytes(stats.content_bytes),
            on_disk: human_bytes(stats.bytes_on_disk),
            allowed: human_bytes(stats.max_bytes),
            on_disk_per_entry: per_entry(stats.bytes_on_disk),
            content_per_entry: per_entry(stats.content_bytes),
        }
    }
}

#[derive(Serialize)]
struct DiskPage {
    /// The unit the file system holding `cache_dir` allocates in, measured.
    block_bytes: Option<u64>,
    settings: Settings,
    body_input: String,
    error: Option<String>,
    result: Option<DiskResult>,
    listing: EntriesListing,
    sizes: DiskSizes,
    stats: DiskStats,
}

const EXAMPLE_BODY: &str = "{\n  \"user\": 42,\n  \"query\": \"caching\"\n}";

fn disk_page_content(
    lab: &Lab,
    body_input: String,
    error: Option<String>,
    result: Option<DiskResult>,
) -> DiskPage {
    let stats = lab.disk().stats();
    DiskPage {
        block_bytes: crate::machine::file_system_of(&lab.config().cache_dir)
            .map(|file_system| file_system.block_bytes),
        settings: settings(lab),
        body_input,
        error,
        result,
        listing: entries_listing(
            lab,
            &ListingQuery {
                key: None,
                page: None,
            },
        ),
        sizes: DiskSizes::of(&stats),
        stats,
    }
}

/// `GET /disk`: the form, with an example body, and a page of the stored
/// entries (`?key=<hex prefix>&page=<n>`).
#[get("/disk?<listing..>")]
fn disk_page(
    lab: &State<Lab>,
    _learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
    listing: ListingQuery,
) -> Template {
    let mut content = disk_page_content(lab, EXAMPLE_BODY.to_owned(), None, None);
    content.listing = entries_listing(lab, &listing);
    render("disk", "Disk cache: JSON bodies", flash, content)
}

/// `POST /disk`: runs the body through the disk tier and shows what happened.
#[post("/disk", data = "<form>")]
async fn disk_submit(
    started: RequestStarted,
    _from: SameOriginChange,
    form: Form<DiskForm>,
    lab: &State<Lab>,
    learner: BrowserLearner,
) -> (Status, Template) {
    let body_input = form.into_inner().body;
    let canonical = match CanonicalJson::parse(body_input.as_bytes()) {
        Ok(canonical) => canonical,
        Err(refused) => {
            let content = disk_page_content(lab, body_input, Some(refused.to_string()), None);
            return (
                Status::UnprocessableEntity,
                render("disk", "Disk cache: JSON bodies", None, content),
            );
        }
    };
    let fingerprint = raw_fingerprint(body_input.as_bytes());
    let timed = lab.data(&canonical).await;
    let total = started.0.elapsed();
    lab.note_data(learner.recorded(), fingerprint, &timed.answer, total);
    let answer = &timed.answer;
    let now = lab.clock().now_ms();
    let (detail, stored) = match answer.lookup {
        DiskLookup::Hit => (
            "Read back from its file, and its bytes matched their hash.".to_owned(),
            true,
        ),
        DiskLookup::Computed { reason, stored } => (
            format!(
                "{} The work was done{}.",
                miss_sentence(reason),
                if stored {
                    " and the answer stored"
                } else {
                    ", but the disk refused to store the answer"
                }
            ),
            stored,
        ),
        DiskLookup::Joined { reason } => (
            format!(
                "{} Another request was already doing the same work; this one waited for it.",
                miss_sentence(reason)
            ),
            answer.written_at_ms.is_some(),
        ),
        DiskLookup::Shared { reason, .. } => (
            format!(
                "{} The shared tier (Redis) had it, stored by another instance: it was read \
                 from there, checked, and written to this machine's disk.",
                miss_sentence(reason)
            ),
            answer.written_at_ms.is_some(),
        ),
    };
    let result = DiskResult {
        canonical: canonical.text().to_owned(),
        key: answer.key.clone(),
        hit: answer.lookup.is_hit(),
        detail,
        stored,
        hit_read: answer.hit_read.map(|read| match read {
            HitRead::PageCache => "page-cache",
            HitRead::OrdinaryRead => "ordinary-read",
        }),
        written_at: answer.written_at_ms.map(clock_utc),
        expires_at: answer.expires_at_ms().map(clock_utc),
        expires_in: answer
            .expires_at_ms()
            .map(|expires| human_duration_ms(expires.saturating_sub(now))),
        server_ms: server_ms(total),
    };
    let content = disk_page_content(lab, body_input, None, Some(result));
    (
        Status::Ok,
        render("disk", "Disk cache: JSON bodies", None, content),
    )
}

#[post("/disk/clear")]
async fn disk_clear(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: BrowserLearner,
) -> Flash<Redirect> {
    let removed = lab.clear_disk(learner.recorded(), "POST /disk/clear").await;
    Flash::success(
        Redirect::to(uri!(disk_page(_))),
        format!(
            "Disk cache cleared: {} removed.",
            count_of(removed, "entry", "entries")
        ),
    )
}

#[derive(Serialize)]
struct TierCounters {
    hits: u64,
    misses: u64,
    hit_ratio: String,
}

#[derive(Serialize)]
struct DashboardPage {
    memory: MemoryStats,
    disk: DiskStats,
    disk_sizes: DiskSizes,
    memory_ratio: TierCounters,
    disk_ratio: TierCounters,
    chart: TimingChart,
    data_delay_ms: u64,
    /// Every instance on this machine, this one included.
    instances: Vec<InstanceColumn>,
    shared: crate::web::shared_tier::SharedTierView,
}

fn counters(hits: u64, misses: u64) -> TierCounters {
    TierCounters {
        hits,
        misses,
        hit_ratio: ratio_percent(hits, misses),
    }
}

/// `GET /dashboard`: both tiers' counters, each instance's side by side,
/// and a chart of recent timings.
#[get("/dashboard")]
async fn dashboard(
    lab: &State<Lab>,
    instances: &State<Instances>,
    _learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    let memory = lab.memory().stats();
    let disk = lab.disk().stats();
    let content = DashboardPage {
        instances: instance::columns(
            instances.name(),
            &InstanceCounts::of(&memory, &disk),
            &instances.others(),
        ),
        memory_ratio: counters(memory.hits, memory.misses),
        disk_ratio: counters(disk.hits, disk.misses),
        disk_sizes: DiskSizes::of(&disk),
        memory,
        disk,
        chart: TimingChart::from_records(&lab.history().recent()),
        data_delay_ms: lab.config().data_delay_ms,
        shared: crate::web::shared_tier::SharedTierView::of(lab.shared()).await,
    };
    render(
        "dashboard",
        "Dashboard: counters and timings",
        flash,
        content,
    )
}

#[post("/dashboard/clear")]
async fn dashboard_clear(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: BrowserLearner,
) -> Flash<Redirect> {
    let cleared = lab
        .clear_all(learner.recorded(), "POST /dashboard/clear")
        .await;
    Flash::success(
        Redirect::to(uri!(dashboard)),
        format!(
            "Caches cleared: {} from memory and {} from disk removed{}.",
            count_of(cleared.memory_entries_removed, "entry", "entries"),
            count_of(cleared.disk_entries_removed, "entry", "entries"),
            match cleared.redis {
                crate::lab::SharedChange::Off => "",
                crate::lab::SharedChange::Done => {
                    "; the shared tier (Redis) emptied, and the other instances told to empty their memory"
                }
                crate::lab::SharedChange::Unavailable => {
                    "; Redis could not be reached, so the shared tier and the other instances' memory keep their copies"
                }
            }
        ),
    )
}

/// A page whose commands name the address the browser reached.
#[derive(Serialize)]
struct TimingPage {
    base_url: String,
}

/// `GET /timing`: reading `X-Cache` and `Server-Timing` in devtools and curl.
#[get("/timing")]
fn timing_page(
    base_url: BaseUrl,
    _learner: BrowserLearner,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    render(
        "timing",
        "Reading cache timings over HTTP",
        flash,
        TimingPage {
            base_url: base_url.0,
        },
    )
}

/// `GET /clear-cache` from a browser: explains why clearing is a POST and
/// offers the button that does it. curl and other API clients get the JSON
/// 405 from the API route, which ranks first.
#[get("/clear-cache", rank = 2)]
fn clear_cache_page(
    lab: &State<Lab>,
    learner: BrowserLearner,
    base_url: BaseUrl,
    flash: Option<FlashMessage<'_>>,
) -> MethodNotAllowedPage {
    lab.clear_by_get_refused(learner.recorded());
    MethodNotAllowedPage {
        page: render(
            "clear_cache",
            "Clearing is a POST",
            flash,
            TimingPage {
                base_url: base_url.0,
            },
        ),
        allow: Header::new("Allow", "POST"),
    }
}

#[derive(Responder)]
#[response(status = 405)]
struct MethodNotAllowedPage {
    page: Template,
    allow: Header<'static>,
}
