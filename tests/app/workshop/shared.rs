//! One room across instances through a real Redis: a learner's progress is
//! the same whichever instance answers, an instance started later learns
//! the room's history, an outage of Redis slows no request and loses no
//! line, and two instances never look like a restart of one.

use std::path::PathBuf;
use std::time::Instant;

use cachelab::workshop::{room_secret_path, HttpLesson, SharingState};
use cachelab_testkit::RedisServer;
use tempfile::TempDir;

use super::*;

/// Long enough for a line to cross Redis on a loaded machine; polls end as
/// soon as it has.
const DEADLINE: Duration = Duration::from_secs(15);

/// One instance of a shared room, as on a machine of its own unless it is
/// given another's disk: its own progress file, and the room's secret.
struct Instance {
    app: TestApp,
    name: String,
    redis_url: String,
    progress_file: PathBuf,
    cache_dir: Option<PathBuf>,
    _progress_dir: TempDir,
}

impl Room for Instance {
    fn lab(&self) -> &Lab {
        self.app.lab()
    }
}

impl Instance {
    /// The first instance of a room on `redis`.
    fn first(name: &str, redis: &RedisServer) -> Self {
        Self::start(name, redis.url(), None, None)
    }

    /// Another instance of `room`'s room, on a machine of its own.
    fn joining(name: &str, room: &Instance) -> Self {
        Self::start(name, room.redis_url.clone(), Some(room), None)
    }

    /// Another instance of `room`'s room on the same machine: the same
    /// disk cache, a progress file of its own.
    fn beside(name: &str, room: &Instance) -> Self {
        Self::start(
            name,
            room.redis_url.clone(),
            Some(room),
            Some(room.app.cache_dir()),
        )
    }

    fn start(
        name: &str,
        redis_url: String,
        room: Option<&Instance>,
        cache_dir: Option<PathBuf>,
    ) -> Self {
        let progress_dir = tempfile::tempdir().expect("temp dir");
        let progress_file = progress_dir.path().join("progress.jsonl");
        if let Some(room) = room {
            // One room: the secret learners' keys and inputs come from.
            std::fs::copy(
                room_secret_path(&room.progress_file),
                room_secret_path(&progress_file),
            )
            .expect("copy the room secret");
        }
        let mut instance = Self {
            app: TestApp::new(),
            name: name.to_owned(),
            redis_url,
            progress_file,
            cache_dir,
            _progress_dir: progress_dir,
        };
        instance.app = TestApp::with(|settings| instance.settings(settings));
        instance
    }

    fn settings(&self, settings: rocket::figment::Figment) -> rocket::figment::Figment {
        let settings = settings
            .merge(setting("max_factorial", TEST_MAX_FACTORIAL))
            .merge(setting("memory_capacity", 100))
            .merge(setting("instance_name", &self.name))
            .merge(setting("redis_url", &self.redis_url))
            .merge(setting("progress_file", &self.progress_file));
        match &self.cache_dir {
            Some(cache_dir) => settings.merge(setting("cache_dir", cache_dir)),
            None => settings,
        }
    }

    /// The same instance stopped and started again.
    fn restart(self) -> Self {
        let Self {
            app,
            name,
            redis_url,
            progress_file,
            cache_dir,
            _progress_dir,
        } = self;
        let mut instance = Self {
            app: TestApp::new(),
            name,
            redis_url,
            progress_file,
            cache_dir,
            _progress_dir,
        };
        instance.app = app.restart_with(|settings| instance.settings(settings));
        instance
    }

    /// `learner`'s last requests, as `/exercises/me` lists them here.
    fn recent(&self, learner: &str) -> Vec<String> {
        let mine = get_as(&self.app, learner, "/exercises/me");
        assert_eq!(mine.status, Status::Ok, "{}", mine.body);
        mine.json["recent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|event| event["text"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Polls `condition` until it holds or [`DEADLINE`] passes.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// `learner` holds their name in both rooms with one key: claimed on
/// `first`, and known on `second` once the claim has crossed Redis.
fn claimed_in_both(learner: &str, first: &Instance, second: &Instance) {
    let name = LearnerName::parse(learner).expect("a usable name");
    let key = credential(first, learner);
    assert!(
        eventually(|| second.lab().workshop().credential_of(&name).is_some()),
        "{learner}'s claim never reached {}",
        second.name
    );
    assert_eq!(
        credential(second, learner),
        key,
        "one key in every instance"
    );
}

/// GET the lab resource `name` under `cache_control`, as `learner`, with
/// extra request headers.
fn load(
    app: &TestApp,
    learner: &str,
    name: &str,
    cache_control: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = app
        .client
        .get(format!("/http-cache/resource/{name}?cc={cache_control}"))
        .header(as_learner(app, learner));
    for (header, value) in headers {
        request = request.header(Header::new(header.to_string(), value.to_string()));
    }
    Answer::from(request.dispatch())
}

#[test]
fn an_exercise_done_across_two_instances_ticks_on_both_and_a_later_one_learns_it() {
    let redis = cachelab_testkit::redis_or_skip!();
    let one = Instance::first("one", &redis);
    let two = Instance::joining("two", &one);
    claimed_in_both("ada", &one, &two);
    let name = plan_in(&one, "ada").resource(HttpLesson::NoStoreVersusNoCache);

    // Two loads under no-store from one instance...
    for _ in 0..2 {
        assert_eq!(
            load(&one.app, "ada", &name, "no-store", &[]).status,
            Status::Ok
        );
    }
    assert!(eventually(|| two.recent("ada").len() == 2));
    // ...then a copy kept under no-cache and confirmed, from the other
    // (each instance makes its own body, so its own ETag).
    let kept = load(&two.app, "ada", &name, "no-cache", &[]);
    let etag = kept.header("ETag").expect("an ETag").to_owned();
    let confirmed = load(
        &two.app,
        "ada",
        &name,
        "no-cache",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(confirmed.status, Status::NotModified);

    for instance in [&one, &two] {
        assert!(
            eventually(|| evidence(&instance.app, "ada", "no-store-no-cache").is_some()),
            "no-store-no-cache not ticked on {}: {:?}",
            instance.name,
            ticks(&instance.app, "ada")
        );
    }
    // The 304 was seen by two only; one lists it among ada's requests.
    assert!(
        one.recent("ada")
            .iter()
            .any(|text| text.contains("304 Not Modified")),
        "{:?}",
        one.recent("ada")
    );

    // A third instance, started later on a machine with no progress file.
    let three = Instance::joining("three", &one);
    assert!(
        eventually(|| evidence(&three.app, "ada", "no-store-no-cache").is_some()),
        "the history was not read from the start: {:?}",
        ticks(&three.app, "ada")
    );
    assert_eq!(three.recent("ada").len(), 4, "{:?}", three.recent("ada"));
    assert_eq!(
        three.lab().workshop().sharing_status().state,
        SharingState::Connected
    );
}

#[test]
fn while_redis_is_down_requests_answer_at_once_and_their_events_arrive_later() {
    let mut redis = cachelab_testkit::redis_or_skip!();
    let one = Instance::first("one", &redis);
    let two = Instance::joining("two", &one);
    claimed_in_both("ada", &one, &two);

    redis.stop();
    for _ in 0..5 {
        let started = Instant::now();
        let refused = get_as(&one.app, "ada", "/clear-cache");
        assert!(refused.status.code < 500, "{}", refused.body);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a request waited on Redis: {:?}",
            started.elapsed()
        );
    }
    assert!(eventually(|| {
        one.lab().workshop().sharing_status().state == SharingState::Unavailable
    }));
    let status = one.lab().workshop().sharing_status();
    assert!(
        status.lines_waiting >= 5 && status.errors >= 1,
        "{status:?}"
    );
    assert_eq!(two.recent("ada"), Vec::<String>::new());

    redis.start_again();
    assert!(
        eventually(|| two.recent("ada").len() == 5),
        "the outage's events never reached two: {:?}",
        two.recent("ada")
    );
    assert!(eventually(|| {
        let status = one.lab().workshop().sharing_status();
        status.state == SharingState::Connected && status.lines_waiting == 0
    }));
    // Read again from the start of the new stream, nothing twice.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(two.recent("ada").len(), 5);
}

#[test]
fn two_instances_are_not_a_restart_of_one_but_a_restart_still_is() {
    let redis = cachelab_testkit::redis_or_skip!();
    let one = Instance::first("one", &redis);
    // Started later, so its boot id is larger than one's.
    std::thread::sleep(Duration::from_millis(5));
    let two = Instance::beside("two", &one);
    claimed_in_both("ada", &one, &two);
    let (n, body) = plan_in(&one, "ada").persistence(ExercisePath::Curl);

    assert_eq!(
        get_as(&one.app, "ada", &format!("/factorial/{n}")).x_cache(),
        "MISS"
    );
    assert_eq!(data_as(&one.app, "ada", &body).x_cache(), "MISS");
    assert!(eventually(|| two.recent("ada").len() == 2));
    // What a restart would show, but on another instance on the same disk:
    // its memory misses (the shared tier answers, computed by one).
    assert_eq!(
        get_as(&two.app, "ada", &format!("/factorial/{n}")).header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored")
    );
    assert_eq!(data_as(&two.app, "ada", &body).x_cache(), "HIT");
    assert!(eventually(|| one.recent("ada").len() == 4));
    assert_eq!(evidence(&one.app, "ada", "disk-persistence"), None);
    assert_eq!(evidence(&two.app, "ada", "disk-persistence"), None);

    let one = one.restart();
    assert_eq!(
        get_as(&one.app, "ada", &format!("/factorial/{n}")).header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored"),
        "memory starts empty after a restart"
    );
    assert_eq!(data_as(&one.app, "ada", &body).x_cache(), "HIT");
    assert!(
        evidence(&one.app, "ada", "disk-persistence").is_some(),
        "{:?}",
        ticks(&one.app, "ada")
    );
    assert!(eventually(
        || evidence(&two.app, "ada", "disk-persistence").is_some()
    ));
    // The restarted instance read the stream from the start: nothing twice.
    assert_eq!(one.recent("ada").len(), 6, "{:?}", one.recent("ada"));
}

#[test]
fn without_redis_the_workshop_shares_nothing() {
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(ExercisePath::Curl);
    get_as(&app, "ada", &format!("/factorial/{n}"));
    get_as(&app, "ada", &format!("/factorial/{n}"));
    let status = app.lab().workshop().sharing_status();
    assert_eq!(status.state, SharingState::Off);
    assert_eq!((status.lines_shared, status.lines_waiting), (0, 0));
    assert!(app.lab().workshop().sharing_task().is_none());
    assert!(evidence(&app, "ada", "first-hit").is_some());
}
