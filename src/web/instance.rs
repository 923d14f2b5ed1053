//! Which instance answered: `X-Instance` on every response, the name at the
//! foot of every page, and each instance's tiers side by side on the
//! dashboard (from the snapshots [`crate::instances`] keeps).

use std::collections::HashMap;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::tokio::sync::Mutex;
use rocket::{Build, Orbit, Request, Response, Rocket};
use rocket_dyn_templates::tera;
use serde::Serialize;

use crate::instances::{InstanceCounts, InstanceName, InstanceSnapshot, Instances, Reporter};
use crate::view::ratio_percent;

/// The response header that names the instance which answered.
pub const INSTANCE_HEADER: &str = "X-Instance";

/// The template function that gives the instance's name:
/// `{{ instance_name() }}`.
pub const INSTANCE_NAME_FUNCTION: &str = "instance_name";

/// Manages `instances`, names the instance on every response, and keeps its
/// snapshot current while the app runs (removed when it stops cleanly).
pub fn stage(rocket: Rocket<Build>, instances: Instances, reporter: Reporter) -> Rocket<Build> {
    let header = InstanceHeader::new(instances.name());
    rocket
        .manage(instances)
        .attach(header)
        .attach(InstanceReporting {
            reporter,
            running: Mutex::new(None),
        })
}

/// Adds `X-Instance: <name>` to every response: API answers, pages, static
/// files and errors alike.
pub struct InstanceHeader {
    /// Made once, so a response copies a pointer, not the name: a memory
    /// hit is answered in microseconds, and an allocation per answer would
    /// show in it.
    value: &'static str,
}

impl InstanceHeader {
    pub fn new(name: &InstanceName) -> Self {
        // One short string per app built, kept for the life of the process
        // (an app is built once; the test suites build a few hundred).
        Self {
            value: Box::leak(name.as_str().to_owned().into_boxed_str()),
        }
    }
}

#[rocket::async_trait]
impl Fairing for InstanceHeader {
    fn info(&self) -> Info {
        Info {
            name: "X-Instance",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_header(Header::new(INSTANCE_HEADER, self.value));
    }
}

/// Writes this instance's snapshot and reads the others' as soon as the
/// app serves, then every second in the background; on a clean stop, waits
/// for that job and removes the snapshot.
struct InstanceReporting {
    reporter: Reporter,
    running: Mutex<Option<rocket::tokio::task::JoinHandle<()>>>,
}

#[rocket::async_trait]
impl Fairing for InstanceReporting {
    fn info(&self) -> Info {
        Info {
            name: "instance snapshots",
            kind: Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        // Once before serving, so the first dashboard already lists the
        // instances that were running.
        self.reporter.report_once().await;
        let job = rocket::tokio::spawn(self.reporter.clone().run(rocket.shutdown()));
        *self.running.lock().await = Some(job);
    }

    async fn on_shutdown(&self, _: &Rocket<Orbit>) {
        if let Some(job) = self.running.lock().await.take() {
            // It ends on the same shutdown; waiting for it means no write
            // of it lands after the removal below.
            let _ = job.await;
        }
        self.reporter.remove_snapshot().await;
    }
}

/// `instance_name()` in a template: this instance's name.
#[derive(Clone)]
pub struct InstanceNameFunction(pub Option<InstanceName>);

impl InstanceNameFunction {
    /// The name of the instance `rocket` will be, if [`stage`] was applied.
    pub fn of(rocket: &Rocket<Build>) -> Self {
        Self(
            rocket
                .state::<Instances>()
                .map(|instances| instances.name().clone()),
        )
    }
}

impl tera::Function for InstanceNameFunction {
    fn call(&self, _: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        Ok(tera::Value::String(
            self.0
                .as_ref()
                .map(|name| name.as_str().to_owned())
                .unwrap_or_default(),
        ))
    }

    /// A name is letters, digits, `-` and `_` only (see [`InstanceName`]).
    fn is_safe(&self) -> bool {
        true
    }
}

/// One instance's column on the dashboard.
#[derive(Debug, Serialize)]
pub struct InstanceColumn {
    pub name: String,
    /// The instance that drew this page: its column is live, the others'
    /// are as their snapshots said at most a second ago.
    pub this_one: bool,
    pub memory_entries: usize,
    pub memory_capacity: usize,
    pub memory_hits: u64,
    pub memory_misses: u64,
    pub memory_hit_ratio: String,
    pub disk_hits: u64,
    pub disk_misses: u64,
    pub disk_hit_ratio: String,
}

impl InstanceColumn {
    fn of(name: &InstanceName, this_one: bool, counts: &InstanceCounts) -> Self {
        Self {
            name: name.as_str().to_owned(),
            this_one,
            memory_entries: counts.memory_entries,
            memory_capacity: counts.memory_capacity,
            memory_hits: counts.memory_hits,
            memory_misses: counts.memory_misses,
            memory_hit_ratio: ratio_percent(counts.memory_hits, counts.memory_misses),
            disk_hits: counts.disk_hits,
            disk_misses: counts.disk_misses,
            disk_hit_ratio: ratio_percent(counts.disk_hits, counts.disk_misses),
        }
    }
}

/// Every instance on this machine by name, this one with its live counts.
pub fn columns(
    own: &InstanceName,
    own_counts: &InstanceCounts,
    others: &[InstanceSnapshot],
) -> Vec<InstanceColumn> {
    let mut columns: Vec<InstanceColumn> = others
        .iter()
        .map(|other| InstanceColumn::of(&other.instance, false, &other.counts))
        .collect();
    columns.push(InstanceColumn::of(own, true, own_counts));
    columns.sort_by(|a, b| a.name.cmp(&b.name));
    columns
}
