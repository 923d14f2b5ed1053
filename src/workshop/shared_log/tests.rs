//! Sharing without a Redis server: what is applied, how often, and what a
//! room without Redis does.

use super::*;

fn ada() -> LearnerName {
    LearnerName::parse("ada").expect("a usable name")
}

/// A room shared through a Redis nobody starts: lines only queue.
fn shared_as(instance: &str) -> Option<SharedRoom> {
    Some(SharedRoom {
        instance: InstanceName::parse(instance).expect("a usable instance name"),
        redis_url: "redis://127.0.0.1:1/".into(),
        redis_timeout: Duration::from_millis(100),
    })
}

/// Line `number` from the run `boot` of `instance`: ada asked for 5!.
fn line_from(instance: &str, boot: u64, number: u64) -> SharedLine {
    let instance = InstanceName::parse(instance).expect("a usable instance name");
    SharedLine {
        origin: Origin {
            instance: instance.clone(),
            boot,
        },
        number,
        line: LogLine::Event {
            learner: ada(),
            event: Event {
                at_ms: 1_000 + number,
                boot,
                seq: number,
                instance: Some(instance),
                what: What::ClearByGetRefused,
            },
        },
    }
}

#[test]
fn a_room_without_redis_shares_nothing_and_writes_the_file_as_before() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let workshop = Workshop::open(&path, PlanSettings::default());
    assert_eq!(workshop.sharing_status(), SharingStatus::off());
    assert_eq!(workshop.sharing_status().state, SharingState::Off);
    assert!(workshop.sharing_task().is_none());
    workshop.record(&ada(), What::ClearByGetRefused);
    assert_eq!(workshop.recent_events(&ada(), 1)[0].instance, None);
    drop(workshop);
    let text = std::fs::read_to_string(&path).expect("the progress file");
    assert!(text.starts_with("{\"event\":"), "{text}");
    assert!(
        !text.contains("shared") && !text.contains("instance"),
        "{text}"
    );
}

#[test]
fn a_line_from_another_instance_is_applied_once_even_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let workshop = Workshop::open_shared(&path, PlanSettings::default(), shared_as("one"));
    workshop.record(&ada(), What::ClearByGetRefused);
    let lines = || [line_from("two", 7, 1), line_from("two", 7, 2)].into_iter();
    assert_eq!(workshop.core.apply_shared(lines()), 2);
    assert_eq!(workshop.core.apply_shared(lines()), 0, "read again");
    let events = workshop.recent_events(&ada(), 10);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].instance.as_ref().map(InstanceName::as_str),
        Some("two")
    );
    assert!(
        events[0].seq > events[2].seq,
        "numbered here as it arrived: {events:?}"
    );
    let status = workshop.sharing_status();
    assert_eq!(
        (status.state, status.lines_waiting),
        (SharingState::Connecting, 1)
    );
    let own_line = SharedLine {
        origin: workshop
            .core
            .link
            .as_ref()
            .expect("shared")
            .origin()
            .clone(),
        ..line_from("one", 0, 1)
    };
    drop(workshop);

    // The restart reads the stream from the start: its earlier run's own
    // line and the other instance's are in the progress file already.
    let workshop = Workshop::open_shared(&path, PlanSettings::default(), shared_as("one"));
    assert_eq!(workshop.recent_events(&ada(), 10).len(), 3);
    assert_eq!(workshop.core.apply_shared(lines().chain([own_line])), 0);
    assert_eq!(
        workshop
            .core
            .apply_shared([line_from("two", 7, 3)].into_iter()),
        1
    );
    assert_eq!(workshop.recent_events(&ada(), 10).len(), 4);
}

#[test]
fn only_the_first_ask_gets_the_sharing_task() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let workshop = Workshop::open_shared(&path, PlanSettings::default(), shared_as("one"));
    assert!(workshop.sharing_task().is_some());
    assert!(workshop.sharing_task().is_none());
}

#[test]
fn past_the_bound_the_oldest_waiting_lines_are_dropped_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("progress.jsonl");
    let workshop = Workshop::open_shared(&path, PlanSettings::default(), shared_as("one"));
    for _ in 0..OUTBOX_MAX_LINES + 5 {
        workshop.note_clear(ClearedTier::Memory);
    }
    let status = workshop.sharing_status();
    assert_eq!(status.lines_waiting, OUTBOX_MAX_LINES);
    assert_eq!(status.lines_dropped, 5);
}
