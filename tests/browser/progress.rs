//! The instructor's progress table with a room's worth of learners, in real
//! Chromium at desktop and at phone width: every exercise's column reachable,
//! headings over their ticks, names on one line, and a page that never
//! scrolls sideways.

use std::path::Path;

use serde_json::{json, Value};

use super::new_pages::assert_no_sideways_scroll;
use super::{assert_console_clean, count, text_of, Screenshots, Session, INSTRUCTOR_KEY, SIZES};

/// The exercises as the progress file names them, in the workshop's order.
const EXERCISES: [&str; 23] = [
    "first-hit",
    "memoized-steps",
    "lru-eviction",
    "disk-persistence",
    "canonical-keys",
    "ttl",
    "clearing",
    "reading-timings",
    "stampede",
    "integrity",
    "browser-cache",
    "revalidation",
    "no-store-versus-no-cache",
    "shared-cache-hit",
    "memory-per-process",
    "shared-tier-hit",
    "clear-reaches-every-instance",
    "shared-tier-outage",
    "stale-answer",
    "invalidate-on-write",
    "write-through",
    "stale-while-revalidate",
    "size-the-memory-tier",
];

/// A room: hyphenated names (the longest a browser is given, 19 characters,
/// and the longest allowed, 32) and the exercise numbers each has done,
/// spread over all 23.
const ROOM: [(&str, &[usize]); 5] = [
    (
        "curious-badger-1234",
        &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
        ],
    ),
    (
        "chromium-learner-with-a-long-one",
        &[1, 2, 3, 15, 16, 17, 18, 22],
    ),
    ("brave-heron-0042", &[1, 5, 9, 13, 19, 20, 21, 22, 23]),
    ("quiet-lynx-9001", &[2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]),
    ("sunny_fox-7", &[15, 22, 23]),
];

/// The room's ticks as a progress file holds them. Evidence saved as a
/// sentence is the form earlier versions of the app wrote, which it still
/// reads; it lets one file tick exercises that need Redis or two instances.
fn seed_progress_file(workspace: &Path) {
    let mut lines = String::new();
    for (learner, done) in ROOM {
        for number in done {
            let line = json!({ "tick": {
                "learner": learner,
                "exercise": EXERCISES[number - 1],
                "tick": { "at_ms": 1_000, "evidence": format!("exercise {number}, seeded") },
            }});
            lines.push_str(&format!("{line}\n"));
        }
    }
    std::fs::write(workspace.join("cache-progress.jsonl"), lines).expect("write the progress file");
}

/// The table measured after scrolling the last exercise's heading into
/// view, as a browser does when it gets the focus: whether the box scrolls,
/// whether that heading is then in the box and the window and not under the
/// names that stay in view, how far any tick sits from the centre of its
/// column's heading, and how many lines each name takes.
const MEASURE_TABLE: &str = r#"
    const wrap = document.querySelector('.progress-wrap');
    const headings = [...document.querySelectorAll('table.progress thead th.exercise-column')];
    const last = headings[headings.length - 1];
    wrap.scrollLeft = 0;
    last.scrollIntoView({ block: 'center', inline: 'nearest' });
    const box = wrap.getBoundingClientRect();
    const heading = last.getBoundingClientRect();
    const middle = (rect) => (rect.left + rect.right) / 2;
    const onTop = document.elementFromPoint(middle(heading), (heading.top + heading.bottom) / 2);
    let offCentre = 0;
    for (const row of document.querySelectorAll('table.progress tbody tr')) {
        row.querySelectorAll('td.exercise-column').forEach((cell, index) => {
            const mark = cell.firstElementChild.getBoundingClientRect();
            const number = headings[index].querySelector('a').getBoundingClientRect();
            offCentre = Math.max(offCentre, Math.abs(middle(mark) - middle(number)));
        });
    }
    const names = [...document.querySelectorAll('table.progress th[scope=row] code')]
        .map((name) => [name.textContent, name.getClientRects().length]);
    return {
        columns: headings.length,
        last_text: last.textContent,
        box_scrolls: wrap.scrollWidth > wrap.clientWidth,
        last_inside_box: heading.left >= box.left - 0.5 && heading.right <= box.right + 0.5,
        last_inside_window: heading.left >= 0 && heading.right <= window.innerWidth,
        last_not_covered: last.contains(onTop),
        off_centre_px: offCentre,
        names,
    };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_table_shows_every_exercise_on_a_desktop_and_a_phone() {
    let Some(session) = Session::start_with(seed_progress_file).await else {
        return;
    };
    let (base, browser) = (session.base.clone(), session.browser.clone());
    let shots = Screenshots::new();
    let ticks: usize = ROOM.iter().map(|(_, done)| done.len()).sum();
    for (size, width, height) in SIZES {
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        browser
            .goto(&format!("{base}/exercises/progress?key={INSTRUCTOR_KEY}"))
            .await
            .expect("open progress");
        assert_eq!(text_of(&browser, "h1").await, "Workshop progress");
        assert_eq!(count(&browser, "table.progress tbody tr").await, ROOM.len());
        assert_eq!(
            count(&browser, "table.progress a.tick").await,
            ticks,
            "every seeded tick is shown"
        );
        assert_no_sideways_scroll(&browser, "/exercises/progress", width).await;
        shots
            .take_at(&browser, "progress-room", size, width, height)
            .await;

        let table = browser
            .execute(MEASURE_TABLE, vec![])
            .await
            .expect("measure the table");
        assert_eq!(table["columns"], EXERCISES.len(), "{table}");
        assert_eq!(
            table["last_text"],
            format!("Exercise {}", EXERCISES.len()),
            "the heading holds the hidden word and the number: {table}"
        );
        assert!(
            table["last_inside_box"] == true
                && table["last_inside_window"] == true
                && table["last_not_covered"] == true,
            "at {width} px the last exercise's heading is in view: {table}"
        );
        let off_centre = table["off_centre_px"].as_f64().unwrap_or(f64::MAX);
        assert!(
            off_centre < 1.5,
            "at {width} px every tick sits under its heading: {table}"
        );
        let names = table["names"].as_array().cloned().unwrap_or_default();
        assert_eq!(names.len(), ROOM.len(), "{table}");
        for name in &names {
            let (text, lines) = (name[0].as_str().unwrap_or_default(), &name[1]);
            // On a phone, a chosen name longer than any given one may wrap
            // at its hyphens, so that ticks fit beside it.
            if size == "desktop" || text.len() <= 19 {
                assert_eq!(lines, &Value::from(1), "{text} at {width} px: {table}");
            }
        }
        if size == "desktop" {
            assert_eq!(
                table["box_scrolls"], false,
                "at {width} px every column fits without scrolling: {table}"
            );
        } else {
            assert_eq!(
                table["box_scrolls"], true,
                "at {width} px the table scrolls in its own box: {table}"
            );
        }
        // The measuring scrolled the box: the page still does not.
        assert_no_sideways_scroll(&browser, "/exercises/progress (scrolled)", width).await;
        assert_console_clean(&browser, "/exercises/progress").await;
        shots
            .take_at(&browser, "progress-room-scrolled", size, width, height)
            .await;
    }
    session
        .browser
        .clone()
        .close()
        .await
        .expect("close the browser");
}
