//! Settings: shipped defaults, and refusal of settings the app cannot honour.

use rocket::figment::Figment;

use crate::helpers::{setting, test_settings};

#[test]
fn the_shipped_defaults_serve_127_0_0_1_on_port_8000() {
    let rocket_config: rocket::Config = cachelab::figment().extract().expect("rocket config");
    assert_eq!(rocket_config.address.to_string(), "127.0.0.1");
    assert_eq!(rocket_config.port, 8000);
    let config: cachelab::Config = cachelab::figment().extract().expect("app config");
    assert_eq!(
        config,
        cachelab::Config::default(),
        "Rocket.toml and the code agree"
    );
}

fn refusal(settings: Figment) -> String {
    match cachelab::rocket_from(settings) {
        Ok(_) => panic!("the settings should have been refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn zero_capacity_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reason =
        refusal(test_settings(&dir.path().join("cache")).merge(setting("memory_capacity", 0)));
    assert!(reason.contains("memory_capacity"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
}

#[test]
fn an_unwritable_cache_dir_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let reason = refusal(test_settings(&file.join("cache")));
    assert!(reason.contains("cache_dir"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
}

#[test]
fn a_setting_of_the_wrong_type_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reason =
        refusal(test_settings(&dir.path().join("cache")).merge(setting("disk_ttl_secs", "soon")));
    assert!(reason.contains("disk_ttl_secs"), "{reason}");
    assert_eq!(reason.lines().count(), 1);
}

#[test]
fn a_ttl_beyond_ten_years_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings =
        test_settings(&dir.path().join("cache")).merge(setting("disk_ttl_secs", u64::MAX));
    let reason = refusal(settings);
    assert!(reason.contains("disk_ttl_secs"), "{reason}");
}
