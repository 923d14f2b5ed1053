//! The workshop as a whole: checks on hand-made events, and the progress
//! file across floods, compaction, a second copy and reopening.

use super::*;

/// A factorial event; `at_ms` doubles as its place in the sequence.
fn factorial(at_ms: u64, n: u64, hit: bool) -> Event {
    Event {
        at_ms,
        boot: 1,
        seq: at_ms,
        instance: None,
        what: What::Factorial(FactorialEvent {
            n,
            hit,
            coalesced: false,
            steps_computed: if hit { 0 } else { n },
            reused_from: None,
            elapsed_us: if hit { 20 } else { 200_000 },
            computation: 1,
            reused_computation: None,
            shared: None,
        }),
    }
}

#[test]
fn names_are_checked_and_generated_names_are_valid() {
    assert_eq!(
        LearnerName::parse(" Ada-L_1 ").map(|n| n.to_string()),
        Ok("ada-l_1".into())
    );
    assert!(LearnerName::parse("").is_err());
    assert!(LearnerName::parse("a b").is_err());
    assert!(LearnerName::parse("<script>").is_err());
    assert!(LearnerName::parse(&"x".repeat(33)).is_err());
    for _ in 0..50 {
        let name = LearnerName::generate();
        assert_eq!(LearnerName::parse(name.as_str()), Ok(name));
    }
}

fn ada() -> LearnerName {
    LearnerName::parse("ada").expect("valid")
}

fn plan() -> Plan {
    Plan::for_learner(&ada(), 42, PlanSettings::default())
}

/// ada's number for the first exercise in `workshop`'s room.
fn n_in(workshop: &Workshop) -> u64 {
    workshop.plan(&ada()).first_hit(ExercisePath::Browser)
}

/// ada's own number for the first exercise, the browser way.
fn her_n() -> u64 {
    plan().first_hit(ExercisePath::Browser)
}

#[test]
fn a_miss_then_a_hit_of_her_own_number_ticks_and_nothing_else_does() {
    let n = her_n();
    let events = [factorial(1_000, n, false), factorial(2_000, n, true)];
    let evidence = check(Exercise::FirstHit, &plan(), &events, &[]).expect("ticked");
    assert_eq!(
        evidence.steps(),
        &events[..],
        "the two requests are the evidence"
    );
    assert_eq!(check(Exercise::FirstHit, &plan(), &events[1..], &[]), None);
    let other_n = [factorial(1_000, n, false), factorial(2_000, n + 1, true)];
    assert_eq!(check(Exercise::FirstHit, &plan(), &other_n, &[]), None);
    let not_hers = [factorial(1_000, 20, false), factorial(2_000, 20, true)];
    assert_eq!(check(Exercise::FirstHit, &plan(), &not_hers, &[]), None);
}

#[test]
fn a_clear_by_anyone_explains_the_last_lru_miss() {
    let run = plan().lru(ExercisePath::Browser);
    let at = |seq: u64, n: u64, hit: bool| Event {
        seq,
        what: What::Factorial(FactorialEvent {
            n,
            hit,
            coalesced: false,
            steps_computed: if hit {
                0
            } else if n == run.newcomer() {
                1
            } else {
                200
            },
            reused_from: (n == run.newcomer()).then_some(run.top),
            elapsed_us: 100,
            computation: if n == run.newcomer() { 2 } else { 1 },
            reused_computation: (n == run.newcomer()).then_some(1),
            shared: None,
        }),
        ..factorial(seq, n, hit)
    };
    let events = [
        at(1, run.top, false),
        at(2, run.oldest(), true),
        at(3, run.newcomer(), false),
        at(5, run.oldest(), true),
        at(6, run.victim(), false),
    ];
    assert!(check(Exercise::LruEviction, &plan(), &events, &[]).is_some());
    let clear = |seq: u64| ClearRecord {
        instance: None,
        at_ms: seq,
        boot: 1,
        seq,
        tier: ClearedTier::Memory,
    };
    assert_eq!(
        check(Exercise::LruEviction, &plan(), &events, &[clear(4)]),
        None,
        "cleared between adding and the last miss"
    );
    assert!(check(Exercise::LruEviction, &plan(), &events, &[clear(7)]).is_some());
}

#[test]
fn a_tick_saved_as_a_sentence_by_an_earlier_version_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"tick":{"learner":"ada","exercise":"first-hit","#,
            r#""tick":{"at_ms":5,"evidence":"20! was a MISS, then a HIT"}}}"#,
            "\n"
        ),
    )
    .expect("write");
    let workshop = Workshop::open(&path, PlanSettings::default());
    let progress = workshop.progress_of(&ada());
    assert_eq!(
        progress.ticks.get("first-hit").map(|tick| &tick.evidence),
        Some(&Evidence::Words("20! was a MISS, then a HIT".into()))
    );
}

#[test]
fn a_torn_line_loses_only_itself_and_the_file_is_compacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let line = |n: u64| {
        let event = factorial(n, n, false);
        serde_json::to_string(&LogLine::Event {
            learner: LearnerName::parse("ada").expect("valid"),
            event,
        })
        .expect("serializes")
    };
    let mut bytes = format!("{}\n", line(1)).into_bytes();
    bytes.extend_from_slice(b"{\"event\":{\"learner\":\"ada\xE2\x80"); // cut mid-character
    bytes.extend_from_slice(format!("\n{}\n", line(2)).as_bytes());
    std::fs::write(&path, bytes).expect("write");

    let workshop = Workshop::open(&path, PlanSettings::default());
    let ada = LearnerName::parse("ada").expect("valid");
    assert_eq!(
        workshop.recent_events(&ada, 10).len(),
        2,
        "both whole lines replayed"
    );
    let compacted = std::fs::read_to_string(&path).expect("valid UTF-8 after compaction");
    assert_eq!(compacted.lines().count(), 2);
}

#[test]
fn a_flood_of_new_names_never_costs_a_learner_their_ticks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workshop = Workshop::open(&dir.path().join("progress.jsonl"), PlanSettings::default());
    let ada = LearnerName::parse("ada").expect("valid");
    workshop.record(&ada, factorial(0, n_in(&workshop), false).what);
    workshop.record(&ada, factorial(0, n_in(&workshop), true).what);
    assert_eq!(workshop.progress_of(&ada).done, 1);
    for n in 0..MAX_LEARNERS + 100 {
        let invented = LearnerName::parse(&format!("bot-{n}")).expect("valid");
        workshop.record(&invented, factorial(0, 3, false).what);
    }
    assert_eq!(workshop.progress_of(&ada).done, 1, "ada keeps her tick");
    let last = LearnerName::parse(&format!("bot-{}", MAX_LEARNERS + 99)).expect("valid");
    assert_eq!(
        workshop.recent_events(&last, 10).len(),
        1,
        "tick-less names rotate"
    );
}

#[test]
fn one_client_repeating_a_request_keeps_the_file_bounded_while_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let ada = LearnerName::parse("ada").expect("valid");
    let workshop = Workshop::open(&path, PlanSettings::default());
    workshop.record(&ada, factorial(0, n_in(&workshop), false).what);
    workshop.record(&ada, factorial(0, n_in(&workshop), true).what);
    for _ in 0..800 {
        workshop.record(&ada, factorial(0, n_in(&workshop), true).what);
    }
    drop(workshop);
    let lines = std::fs::read_to_string(&path)
        .expect("file")
        .lines()
        .count();
    // 803 lines were written; 200 events and a tick are remembered.
    assert!(lines < 450, "{lines} lines");
    let reopened = Workshop::open(&path, PlanSettings::default());
    assert_eq!(
        reopened.progress_of(&ada).done,
        1,
        "the tick survives compaction"
    );
    assert_eq!(reopened.recent_events(&ada, 500).len(), EVENTS_PER_LEARNER);
}

#[test]
fn a_second_copy_never_rewrites_the_file_the_first_one_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let ada = LearnerName::parse("ada").expect("valid");
    let grace = LearnerName::parse("grace").expect("valid");
    let first = Workshop::open(&path, PlanSettings::default());
    first.record(&ada, factorial(0, n_in(&first), false).what);
    // A copy started by mistake: it must not compact the file away.
    let second = Workshop::open(&path, PlanSettings::default());
    second.record(&grace, factorial(0, 3, false).what);
    first.record(&ada, factorial(0, n_in(&first), true).what);
    drop(second);
    drop(first);
    let reopened = Workshop::open(&path, PlanSettings::default());
    assert_eq!(reopened.progress_of(&ada).done, 1, "the first copy's tick");
    assert_eq!(reopened.recent_events(&ada, 10).len(), 2);
    assert_eq!(reopened.recent_events(&grace, 10).len(), 0);
}

#[test]
fn a_name_taken_by_renaming_is_taken_at_once_and_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let ada = LearnerName::parse("ada").expect("valid");
    let first_browser = LearnerName::parse("curious-otter-1234").expect("valid");
    let second_browser = LearnerName::parse("brave-heron-5678").expect("valid");
    {
        let workshop = Workshop::open(&path, PlanSettings::default());
        assert!(workshop.rename(&first_browser, &ada).is_ok());
        assert!(
            workshop.rename(&second_browser, &ada).is_err(),
            "taken before ada sent a request"
        );
    }
    let reopened = Workshop::open(&path, PlanSettings::default());
    assert!(reopened.rename(&second_browser, &ada).is_err());
    assert_eq!(reopened.recent_events(&ada, 10).len(), 1, "the rename");
}

#[test]
fn a_key_for_a_name_obtained_before_its_holder_chose_it_opens_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let ada = LearnerName::parse("ada").expect("valid");
    let attacker = LearnerName::parse("mallory").expect("valid");
    let victim = LearnerName::parse("curious-otter-1234").expect("valid");
    let workshop = Workshop::open(&path, PlanSettings::default());
    // Take the name, keep its key, leave it.
    let harvested = workshop.rename(&attacker, &ada).expect("free");
    assert!(workshop.rename(&ada, &attacker).is_ok());
    // The learner who really chooses it gets a key of their own.
    let real = workshop.rename(&victim, &ada).expect("free again");
    assert_eq!(workshop.identify(&real.to_string()), Ok(ada.clone()));
    assert_eq!(
        workshop.identify(&harvested.to_string()),
        Err(CredentialRefusal::WrongKey(ada.clone()))
    );
    // And after a restart, the claim still holds.
    drop(workshop);
    let reopened = Workshop::open(&path, PlanSettings::default());
    assert!(reopened.identify(&harvested.to_string()).is_err());
    assert_eq!(reopened.identify(&real.to_string()), Ok(ada));
}

#[test]
fn a_credential_offered_to_a_browser_claims_its_name_when_first_used() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workshop = Workshop::open(&dir.path().join("progress.jsonl"), PlanSettings::default());
    let name = workshop.fresh_name();
    let first = workshop.offer(&name);
    let second = workshop.offer(&name);
    assert_eq!(workshop.identify(&first.to_string()), Ok(name.clone()));
    assert!(
        workshop.identify(&second.to_string()).is_err(),
        "the first one used holds the name"
    );
    assert_eq!(workshop.credential_of(&name), Some(first));
}

#[test]
fn progress_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let ada = LearnerName::parse("ada").expect("valid");
    {
        let workshop = Workshop::open(&path, PlanSettings::default());
        workshop.record(&ada, factorial(0, n_in(&workshop), false).what);
        workshop.record(&ada, factorial(0, n_in(&workshop), true).what);
        assert_eq!(workshop.progress_of(&ada).done, 1);
    }
    // The writer thread drains its queue before the file is read again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let reopened = loop {
        let reopened = Workshop::open(&path, PlanSettings::default());
        if reopened.progress_of(&ada).done == 1 || std::time::Instant::now() > deadline {
            break reopened;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let progress = reopened.progress_of(&ada);
    assert_eq!(progress.done, 1);
    assert!(progress.ticks.contains_key("first-hit"));
    assert_eq!(reopened.recent_events(&ada, 10).len(), 2);
}

/// A lab resource request that reached the app; `at_ms` doubles as its
/// place in the sequence.
fn resource(at_ms: u64, name: &str, status: u16, cache_control: &str) -> Event {
    Event {
        at_ms,
        boot: 1,
        seq: at_ms,
        instance: None,
        what: What::HttpResource(HttpResourceEvent {
            name: name.to_owned(),
            status,
            conditional: status == 304,
            via_proxy: false,
            cache_control: cache_control.to_owned(),
            proxy_request: None,
        }),
    }
}

/// The same, passed on by the shared cache in front as its request `id`.
fn through_proxy(at_ms: u64, name: &str, status: u16, cache_control: &str, id: &str) -> Event {
    let mut event = resource(at_ms, name, status, cache_control);
    if let What::HttpResource(seen) = &mut event.what {
        seen.via_proxy = true;
        seen.proxy_request = Some(id.to_owned());
    }
    event
}

fn proxy_received(at_ms: u64, name: &str, id: &str) -> Event {
    Event {
        at_ms,
        boot: 1,
        seq: at_ms,
        instance: None,
        what: What::ProxyReceived {
            name: name.to_owned(),
            request: id.to_owned(),
        },
    }
}

fn browser_loads(at_ms: u64, name: &str, loads: u32, from_cache: u32) -> Event {
    Event {
        at_ms,
        boot: 1,
        seq: at_ms,
        instance: None,
        what: What::BrowserLoads {
            name: name.to_owned(),
            loads,
            from_cache,
        },
    }
}

#[test]
fn the_browser_answering_needs_a_fresh_copy_and_no_request_in_between() {
    let name = plan().resource(HttpLesson::BrowserCache);
    let check = |events: &[Event]| check(Exercise::BrowserCache, &plan(), events, &[]);
    let done = [
        resource(1_000, &name, 200, "max-age=60"),
        browser_loads(2_000, &name, 2, 1),
    ];
    assert_eq!(check(&done).expect("ticked").steps(), &done[..]);
    // The page reports each load, the one that reached the app too.
    let load_by_load = [
        resource(1_000, &name, 200, "max-age=60"),
        browser_loads(1_001, &name, 1, 0),
        browser_loads(2_000, &name, 1, 1),
    ];
    assert_eq!(
        check(&load_by_load).expect("ticked").steps(),
        &[load_by_load[0].clone(), load_by_load[2].clone()]
    );
    // The second load reached the app: the browser did not answer it.
    let asked = [
        resource(1_000, &name, 200, "max-age=60"),
        resource(1_500, &name, 200, "max-age=60"),
        browser_loads(2_000, &name, 2, 0),
    ];
    assert_eq!(check(&asked), None);
    let in_between = [
        resource(1_000, &name, 200, "max-age=60"),
        resource(1_500, &name, 200, "no-cache"),
        browser_loads(2_000, &name, 2, 1),
    ];
    assert_eq!(
        check(&in_between),
        None,
        "the latest answer may not be used unasked"
    );
    for never_fresh in [
        "no-store",
        "no-cache",
        "max-age=0",
        "",
        "no-cache, max-age=60",
    ] {
        let events = [
            resource(1_000, &name, 200, never_fresh),
            browser_loads(2_000, &name, 2, 1),
        ];
        assert_eq!(check(&events), None, "{never_fresh:?} gives no fresh copy");
    }
    // A stale copy made fresh again by a 304, then used without asking.
    let refreshed = [
        resource(1_000, &name, 304, "max-age=60"),
        browser_loads(2_000, &name, 1, 1),
    ];
    assert!(check(&refreshed).is_some());
    let too_late = [
        resource(1_000, &name, 200, "max-age=5"),
        browser_loads(7_000, &name, 2, 1),
    ];
    assert_eq!(check(&too_late), None, "the copy had gone stale");
    let other = plan().resource(HttpLesson::Revalidation);
    let not_hers = [
        resource(1_000, &other, 200, "max-age=60"),
        browser_loads(2_000, &other, 2, 1),
    ];
    assert_eq!(check(&not_hers), None, "another exercise's resource");
}

#[test]
fn revalidation_is_a_whole_answer_then_a_304_to_a_conditional_request() {
    let name = plan().resource(HttpLesson::Revalidation);
    let check = |events: &[Event]| check(Exercise::Revalidation, &plan(), events, &[]);
    let done = [
        resource(1_000, &name, 200, "no-cache"),
        resource(2_000, &name, 304, "no-cache"),
    ];
    assert_eq!(check(&done).expect("ticked").steps(), &done[..]);
    let twice_whole = [
        resource(1_000, &name, 200, "no-cache"),
        resource(2_000, &name, 200, "no-cache"),
    ];
    assert_eq!(check(&twice_whole), None);
    assert_eq!(check(&done[1..]), None, "a 304 with no answer before it");
}

#[test]
fn no_store_then_no_cache_shows_what_each_keeps() {
    let name = plan().resource(HttpLesson::NoStoreVersusNoCache);
    let check = |events: &[Event]| check(Exercise::NoStoreVersusNoCache, &plan(), events, &[]);
    let done = [
        resource(1_000, &name, 200, "no-store"),
        resource(2_000, &name, 200, "no-store"),
        resource(3_000, &name, 200, "no-cache"),
        resource(4_000, &name, 304, "no-cache"),
    ];
    assert_eq!(check(&done).expect("ticked").steps(), &done[..]);
    let mut no_store_revalidated = done.clone();
    no_store_revalidated[1] = resource(2_000, &name, 304, "no-store");
    assert_eq!(check(&no_store_revalidated), None);
    // A browser that kept a no-cache copy from an earlier try asks at once.
    let mut kept_from_before = done.clone();
    kept_from_before[2] = resource(3_000, &name, 304, "no-cache");
    assert!(check(&kept_from_before).is_some());
    let no_cache_whole_twice = [
        done[0].clone(),
        done[1].clone(),
        done[2].clone(),
        resource(4_000, &name, 200, "no-cache"),
    ];
    assert_eq!(check(&no_cache_whole_twice), None);
    assert_eq!(
        check(&[done[0].clone(), done[2].clone(), done[3].clone()]),
        None,
        "one no-store load shows nothing"
    );
}

#[test]
fn a_shared_cache_hit_is_a_request_the_proxy_received_that_never_reached_the_app() {
    let name = plan().resource(HttpLesson::SharedCache);
    let check = |events: &[Event]| check(Exercise::SharedCacheHit, &plan(), events, &[]);
    let cc = "public, max-age=60";
    // The proxy's account of a request and the request itself arrive in
    // either order.
    let done = [
        proxy_received(1_000, &name, "a"),
        through_proxy(1_001, &name, 200, cc, "a"),
        proxy_received(2_000, &name, "b"),
        browser_loads(3_500, &name, 2, 0),
    ];
    let evidence = check(&done).expect("ticked");
    assert_eq!(evidence.steps(), &[done[1].clone(), done[2].clone()]);
    // Just received: the request may still be on its way to the app.
    assert_eq!(check(&done[..3]), None);
    // Looked at later, with nothing else sent: the wait is over.
    assert!(check_at(Exercise::SharedCacheHit, &plan(), &done[..3], &[], 3_001).is_some());
    assert_eq!(
        check_at(Exercise::SharedCacheHit, &plan(), &done[..3], &[], 2_500),
        None
    );
    let passed_on = [
        through_proxy(1_000, &name, 200, cc, "a"),
        proxy_received(1_001, &name, "a"),
        through_proxy(2_000, &name, 200, cc, "b"),
        proxy_received(2_001, &name, "b"),
        browser_loads(5_000, &name, 2, 0),
    ];
    assert_eq!(check(&passed_on), None, "the app answered both");
    for not_shareable in ["private, max-age=60", "max-age=60", "public, no-store"] {
        let events = [
            through_proxy(1_000, &name, 200, not_shareable, "a"),
            proxy_received(2_000, &name, "b"),
            browser_loads(5_000, &name, 2, 0),
        ];
        assert_eq!(check(&events), None, "{not_shareable:?}");
    }
    let direct = [
        resource(1_000, &name, 200, cc),
        proxy_received(2_000, &name, "b"),
        browser_loads(5_000, &name, 2, 0),
    ];
    assert_eq!(
        check(&direct),
        None,
        "the stored answer did not come through the proxy"
    );
}

/// `event` as seen by the run `boot` of the instance named `instance`.
fn seen_by(instance: &str, boot: u64, mut event: Event) -> Event {
    event.instance = Some(InstanceName::parse(instance).expect("a usable instance name"));
    event.boot = boot;
    event
}

/// A `/data` request for `body`: a stored miss, or a hit.
fn data(at_ms: u64, body: &str, hit: bool) -> Event {
    Event {
        at_ms,
        boot: 1,
        seq: at_ms,
        instance: None,
        what: What::Data(DataEvent {
            key: key_of(body),
            raw_fingerprint: 1,
            hit,
            coalesced: false,
            miss_reason: None,
            stored: !hit,
            elapsed_us: 100,
        }),
    }
}

#[test]
fn another_instance_answering_is_not_a_restart_but_a_restart_of_one_is() {
    let (n, body) = plan().persistence(ExercisePath::Curl);
    let before = [
        seen_by("one", 10, factorial(1, n, false)),
        seen_by("one", 10, data(2, &body, false)),
    ];
    // "two" started later, on the same disk: its boot id is larger.
    let elsewhere = [
        seen_by("two", 20, factorial(3, n, false)),
        seen_by("two", 20, data(4, &body, true)),
    ];
    let events: Vec<Event> = before.iter().chain(&elsewhere).cloned().collect();
    assert_eq!(
        check(Exercise::DiskPersistence, &plan(), &events, &[]),
        None
    );

    let restarted = [
        seen_by("one", 30, factorial(5, n, false)),
        seen_by("one", 30, data(6, &body, true)),
    ];
    let events: Vec<Event> = before.iter().chain(&restarted).cloned().collect();
    assert!(check(Exercise::DiskPersistence, &plan(), &events, &[]).is_some());
}

#[test]
fn a_hit_on_another_instance_is_not_answered_by_this_ones_computation() {
    let n = her_n();
    // Both instances booted in the same millisecond, and each numbers its
    // computations from 1: only the instance tells the runs apart.
    let events = [
        seen_by("one", 10, factorial(1, n, false)),
        seen_by("two", 10, factorial(2, n, true)),
    ];
    assert_eq!(check(Exercise::FirstHit, &plan(), &events, &[]), None);
    let events = [
        seen_by("one", 10, factorial(1, n, false)),
        seen_by("one", 10, factorial(2, n, true)),
    ];
    assert!(check(Exercise::FirstHit, &plan(), &events, &[]).is_some());
}
