//! "Size the memory tier for a target": ticked by a learner's own replay
//! that reached its target at a size read from the curve, and by nothing
//! else.

use super::*;

/// Small settings, so each replay is quick.
const SETTINGS: &str = r#""skew": 1, "keys": 100, "requests": 1000, "target": 70"#;

/// The smallest memory tier the page suggests for [`SETTINGS`].
fn suggested(app: &TestApp) -> u64 {
    let answer = app.get("/sizing.json?skew=1&keys=100&requests=1000&target=70");
    answer.json["suggestion"]["memory_tier_entries"]
        .as_u64()
        .expect("a memory tier reaches 70 % with these settings")
}

fn replay_as(app: &TestApp, learner: Option<&str>, capacity: u64) -> Answer {
    let mut request = app
        .client
        .post("/sizing/replay")
        .header(ContentType::JSON)
        .body(format!(r#"{{{SETTINGS}, "capacity": {capacity}}}"#));
    if let Some(learner) = learner {
        request = request.header(as_learner(app, learner));
    }
    let answer = Answer::from(request.dispatch());
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    answer
}

const EXERCISE: &str = "size-the-memory-tier";

#[test]
fn a_replay_at_the_suggested_size_that_reaches_the_target_ticks() {
    let (app, _plan) = workshop_app("ada");
    let entries = suggested(&app);
    let answer = replay_as(&app, Some("ada"), entries);
    assert_eq!(answer.json["target_reached"], true);
    assert_eq!(answer.json["recorded_for"], "ada");
    let said = evidence(&app, "ada", EXERCISE).expect("ticked");
    assert!(
        said.contains(&format!(
            "replayed 1000 requests (skew 1, 100 keys) at {entries} entries: "
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "for a target of 70% (the smallest that reaches it: {entries})"
        )),
        "{said}"
    );
}

#[test]
fn a_replay_far_above_the_suggestion_does_not_tick() {
    let (app, _plan) = workshop_app("ada");
    let entries = suggested(&app);
    let huge = 100;
    assert!(
        huge * 4 > entries * 5,
        "100 entries is well above {entries}"
    );
    let answer = replay_as(&app, Some("ada"), huge);
    assert_eq!(
        answer.json["target_reached"], true,
        "a huge tier reaches it"
    );
    assert_eq!(evidence(&app, "ada", EXERCISE), None);
    // A quarter above the smallest, rounded down, still counts.
    replay_as(&app, Some("ada"), entries * 5 / 4);
    assert!(evidence(&app, "ada", EXERCISE).is_some());
}

#[test]
fn a_replay_that_misses_its_target_does_not_tick() {
    let (app, _plan) = workshop_app("ada");
    let entries = suggested(&app);
    // Below the suggestion, down to where the search began, falls short.
    let short = app
        .get("/sizing.json?skew=1&keys=100&requests=1000&target=70")
        .json["suggestion"]["memory_tier_searched_from"]
        .as_u64()
        .expect("searched");
    let below = if short < entries {
        entries - 1
    } else {
        short / 2
    };
    let answer = replay_as(&app, Some("ada"), below.max(1));
    assert_eq!(answer.json["target_reached"], false, "{}", answer.body);
    assert_eq!(evidence(&app, "ada", EXERCISE), None);
}

#[test]
fn a_target_below_half_does_not_tick() {
    let (app, _plan) = workshop_app("ada");
    let for_thirty = app
        .get("/sizing.json?keys=100&requests=1000&target=30")
        .json["suggestion"]["memory_tier_entries"]
        .as_u64()
        .expect("30 % is reachable");
    let answer = Answer::from(
        app.client
            .post("/sizing/replay")
            .header(ContentType::JSON)
            .header(as_learner(&app, "ada"))
            .body(format!(
                r#"{{"keys": 100, "requests": 1000, "target": 30, "capacity": {for_thirty}}}"#
            ))
            .dispatch(),
    );
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(answer.json["target_reached"], true);
    assert_eq!(evidence(&app, "ada", EXERCISE), None);
}

#[test]
fn another_learners_replay_or_an_anonymous_one_never_ticks_yours() {
    let (app, _plan) = workshop_app("ada");
    let entries = suggested(&app);
    replay_as(&app, Some("linus"), entries);
    let anonymous = replay_as(&app, None, entries);
    assert_eq!(anonymous.json["recorded_for"], Value::Null);
    assert!(evidence(&app, "linus", EXERCISE).is_some());
    assert_eq!(evidence(&app, "ada", EXERCISE), None);
}

#[test]
fn a_replay_with_a_credential_that_proves_nobody_is_refused_and_recorded_for_nobody() {
    let (app, _plan) = workshop_app("ada");
    credential(&app, "ada");
    let answer = Answer::from(
        app.client
            .post("/sizing/replay")
            .header(ContentType::JSON)
            .header(Header::new("X-Learner", "ada:0000000000000000"))
            .body(format!(r#"{{{SETTINGS}, "capacity": 60}}"#))
            .dispatch(),
    );
    assert_eq!(answer.status, Status::Forbidden, "{}", answer.body);
    assert_eq!(evidence(&app, "ada", EXERCISE), None);
}
