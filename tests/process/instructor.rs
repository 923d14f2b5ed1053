//! The line the binary prints when it starts: the instructor's link, with
//! the key that opens the view of every learner, the same after a restart.

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use std::sync::mpsc;
use std::time::Duration;

use crate::server::Server;

/// The link on the first `Instructor view: ` line of `output`, waiting up
/// to 20 s for it.
fn instructor_link(output: ChildStdout) -> String {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if let Some(link) = line.strip_prefix("Instructor view: ") {
                let _ = sender.send(link.to_owned());
            }
            // Keeps reading to the end: a closed pipe would make the
            // server's next line of output fail.
        }
    });
    receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("an 'Instructor view:' line on standard output")
}

#[test]
fn the_workshop_profile_prints_the_instructor_link_and_it_opens_the_view() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    let workshop = [("ROCKET_PROFILE", "workshop")];
    let (server, output) = Server::start_reading_output(&cache_dir, &workshop);
    let link = instructor_link(output);
    let origin = format!("http://127.0.0.1:{}", server.port);
    let path = link
        .strip_prefix(&origin)
        .unwrap_or_else(|| panic!("{link} should start with {origin}"));
    let key = path
        .strip_prefix("/exercises/progress?key=")
        .unwrap_or_else(|| panic!("{path} should open the progress view with a key"));
    assert!(key.len() >= 12, "{key}");

    let opened = server.request("GET", path, None).expect("an answer");
    assert_eq!(opened.status, 200, "{}", opened.body_text());
    let json = server
        .request("GET", &format!("/exercises/progress.json?key={key}"), None)
        .expect("an answer");
    assert_eq!(json.status, 200);
    for locked in ["/exercises/progress", "/exercises/progress.json"] {
        let refused = server.request("GET", locked, None).expect("an answer");
        assert_eq!(refused.status, 403, "{locked}");
    }

    // Derived from the room secret kept beside the progress file: an open
    // progress page survives the restart the persistence exercise needs.
    server.kill_hard();
    let (_server, output) = Server::start_reading_output(&cache_dir, &workshop);
    let after_restart = instructor_link(output);
    assert!(
        after_restart.ends_with(&format!("?key={key}")),
        "{after_restart}"
    );
}
