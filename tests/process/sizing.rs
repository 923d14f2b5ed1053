//! The sizing page's replay in the real server, where requests are served
//! by several worker threads: it must still get exactly the hits the
//! memory tier's curve predicts.

use crate::server::Server;

#[test]
fn a_replay_in_the_real_server_gets_exactly_the_predicted_hits_every_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&dir.path().join("cache"), &[]);
    for body in [
        r#"{"skew": 0.8, "keys": 100, "requests": 2000, "target": 80, "capacity": 67}"#,
        r#"{"skew": 0.8, "keys": 100, "requests": 2000, "target": 80, "capacity": 67}"#,
        r#"{"skew": 1, "keys": 200, "requests": 2000, "target": 80, "capacity": 113}"#,
    ] {
        let reply = server
            .request("POST", "/sizing/replay", Some(body))
            .expect("the replay answers");
        assert_eq!(reply.status, 200, "{}", reply.body_text());
        let answer: serde_json::Value = serde_json::from_slice(&reply.body).expect("a JSON answer");
        assert_eq!(
            answer["live"]["hits"], answer["predicted"]["memory_tier_hits"],
            "{body}"
        );
        assert_eq!(answer["matches_prediction"], true, "{body}");
        assert!(answer["live"]["hits"].as_u64() > Some(1_000), "{answer}");
    }
}
