//! cachelab: a web app that lets people watch memory caching and disk caching
//! at work.
//!
//! [`rocket`] builds the whole app; `main.rs` launches it and the tests drive
//! the very same app through Rocket's local client.

pub mod canonical;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod disk;
pub mod history;
pub mod http_cache;
pub mod http_lab;
pub mod instances;
pub mod lab;
pub mod machine;
pub mod memory;
pub mod metrics;
pub mod os_limits;
pub mod proxy_witness;
pub mod redis_tier;
pub mod single_flight;
pub mod sizing;
pub mod speed;
pub mod striped;
pub mod view;
pub mod web;
pub mod workshop;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Serialized, Toml};
use rocket::figment::{Figment, Profile};
use rocket::fs::relative;
use rocket::{Build, Rocket};

pub use config::{Config, ConfigError};

use lab::Lab;

/// The settings shipped inside the binary, so it runs the same from any
/// directory; a `Rocket.toml` in the working directory and `ROCKET_*`
/// variables override them.
const EMBEDDED_SETTINGS: &str = include_str!("../Rocket.toml");

/// Rocket's usual configuration sources, with our embedded settings beneath them.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::default())
        // Found wherever the binary is started from.
        .merge(Serialized::default("template_dir", relative!("templates")))
        .merge(Toml::string(EMBEDDED_SETTINGS).nested())
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// The app with the settings from [`figment`].
pub fn rocket() -> Result<Rocket<Build>, ConfigError> {
    rocket_from(figment())
}

/// The app with the given settings. Refuses settings it cannot honour
/// (capacity 0, a `cache_dir` it cannot write) before anything is served.
pub fn rocket_from(figment: Figment) -> Result<Rocket<Build>, ConfigError> {
    rocket_with_clock(figment, clock::Clock::system())
}

/// The app with the given settings and time from `clock`, so that tests can
/// move time forward instead of sleeping.
pub fn rocket_with_clock(
    figment: Figment,
    clock: clock::Clock,
) -> Result<Rocket<Build>, ConfigError> {
    let config = Config::from_figment(&figment)?;
    let lab = Lab::with_clock(config, clock.clone());
    let sweeper = lab.disk().sweeper(lab.config().disk_sweep_interval());
    let shared_tier = lab.shared().clone();
    let shared_tier_at_start = lab.shared().clone();
    let instances = instances::Instances::new(
        lab.config().instance_name.clone(),
        lab.config().instances_dir(),
        clock.clone(),
    );
    let reporter = instances.reporter(lab.instance_counts());
    let workshop_sharing = lab.workshop().sharing_task();
    let rocket = web::stage(rocket::custom(figment));
    let rocket = web::instance::stage(rocket, instances, reporter)
        .attach(AdHoc::on_liftoff("disk sweeper", |rocket| {
            let stop = rocket.shutdown();
            Box::pin(async move {
                tokio::spawn(sweeper.run(stop));
            })
        }))
        .attach(AdHoc::on_ignite("shared tier", |rocket| async move {
            shared_tier_at_start.connect_at_start().await;
            rocket
        }))
        .attach(AdHoc::on_liftoff("shared tier keeper", |rocket| {
            let stop = rocket.shutdown();
            Box::pin(async move {
                tokio::spawn(shared_tier.keeper(stop));
            })
        }))
        // Only with redis_url set: the workshop shared with the other instances.
        .attach(AdHoc::on_liftoff("workshop sharing", |rocket| {
            let stop = rocket.shutdown();
            Box::pin(async move {
                if let Some(task) = workshop_sharing {
                    tokio::spawn(task.run(stop));
                }
            })
        }))
        .manage(lab);
    Ok(rocket)
}
