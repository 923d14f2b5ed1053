use super::*;

#[tokio::test]
async fn a_tier_without_a_url_is_off_and_every_lookup_computes() {
    let tier = RedisTier::off();
    assert_eq!(tier.health(), Health::Off);
    let Fetched::Compute(ticket) = tier.fetch(Kind::Factorial, "5").await else {
        panic!("an off tier finds nothing");
    };
    let lookup = tier.keep(ticket, b"{}").await;
    assert_eq!(lookup.outcome, SharedOutcome::Off);
    assert_eq!(tier.stats().unavailable, 0, "off is not an outage");
}
