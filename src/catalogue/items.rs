//! The source of truth: a handful of items whose prices change, read slowly
//! on purpose so that a cache in front of it is worth having.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// The items on sale: address slug, name shown, starting price in cents.
/// Fruit, so that no slug is one of the catalogue's own words
/// (`strategy`, `market`, `clear`).
const ITEMS: [(&str, &str, u64); 8] = [
    ("apple", "Apple", 120),
    ("banana", "Banana", 45),
    ("cherry", "Cherries (250 g)", 499),
    ("date", "Dates (200 g)", 350),
    ("elderberry", "Elderberry syrup", 725),
    ("fig", "Fig", 95),
    ("grape", "Grapes (500 g)", 300),
    ("kiwi", "Kiwi", 60),
];

/// How many items the catalogue holds: also the cache's capacity, so the
/// only way a copy leaves the cache is a rule of the strategy, never an
/// eviction.
pub const ITEM_COUNT: usize = ITEMS.len();

/// The largest price accepted, in cents: 100,000.00. Anything above is a
/// typing slip, not a price.
pub const MAX_PRICE_CENTS: u64 = 10_000_000;

/// One of the catalogue's items, known to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(usize);

/// An address named no item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownItem;

impl std::fmt::Display for UnknownItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no item has this name; the items are {}",
            ItemId::slugs()
        )
    }
}

impl ItemId {
    /// The item whose slug is `slug` (exactly, lower case).
    pub fn parse(slug: &str) -> Result<Self, UnknownItem> {
        ITEMS
            .iter()
            .position(|(known, _, _)| *known == slug)
            .map(Self)
            .ok_or(UnknownItem)
    }

    /// Every item, in catalogue order.
    pub fn all() -> impl Iterator<Item = ItemId> {
        (0..ITEM_COUNT).map(Self)
    }

    pub fn slug(self) -> &'static str {
        ITEMS[self.0].0
    }

    pub fn name(self) -> &'static str {
        ITEMS[self.0].1
    }

    fn starting_price_cents(self) -> u64 {
        ITEMS[self.0].2
    }

    /// The slugs, comma-separated, for messages.
    pub fn slugs() -> String {
        ITEMS
            .iter()
            .map(|(slug, _, _)| *slug)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn index(self) -> usize {
        self.0
    }
}

impl Serialize for ItemId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

/// A price in cents, between 0 and [`MAX_PRICE_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PriceCents(u64);

/// Why a price was refused, said to the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceRefused {
    Negative,
    TooLarge,
    NotWhole,
}

impl std::fmt::Display for PriceRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Negative => write!(f, "a price cannot be negative"),
            Self::TooLarge => write!(
                f,
                "a price must be at most {MAX_PRICE_CENTS} cents ({} in whole units)",
                MAX_PRICE_CENTS / 100
            ),
            Self::NotWhole => write!(f, "price_cents must be a whole number of cents"),
        }
    }
}

impl PriceCents {
    /// A price from a JSON number (`price_cents` in a request).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, PriceRefused> {
        if let Some(cents) = value.as_u64() {
            return Self::new(cents);
        }
        match value.as_i64() {
            Some(_) => Err(PriceRefused::Negative),
            None => match value.as_f64() {
                Some(number) if number < 0.0 => Err(PriceRefused::Negative),
                Some(number) if number > MAX_PRICE_CENTS as f64 => Err(PriceRefused::TooLarge),
                _ => Err(PriceRefused::NotWhole),
            },
        }
    }

    /// A price from a form field, as typed.
    pub fn parse(text: &str) -> Result<Self, PriceRefused> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(PriceRefused::Negative);
        }
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            return text
                .parse::<u64>()
                .map_err(|_| PriceRefused::TooLarge)
                .and_then(Self::new);
        }
        Err(PriceRefused::NotWhole)
    }

    pub fn new(cents: u64) -> Result<Self, PriceRefused> {
        if cents > MAX_PRICE_CENTS {
            return Err(PriceRefused::TooLarge);
        }
        Ok(Self(cents))
    }

    pub fn cents(self) -> u64 {
        self.0
    }
}

/// An item as the source holds it at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemRecord {
    pub item: ItemId,
    pub price_cents: u64,
    /// 1 at start, one more with each change of price.
    pub version: u64,
    /// When the price was last set (Unix milliseconds; start-up for the
    /// starting prices).
    pub updated_at_ms: u64,
}

/// The source of truth (a database, in a real app). Reads cost
/// `read_delay`; changes are instant.
pub struct Source {
    records: Mutex<Vec<ItemRecord>>,
    read_delay: Duration,
}

impl Source {
    pub fn new(read_delay: Duration, now_ms: u64) -> Self {
        let records = ItemId::all()
            .map(|item| ItemRecord {
                item,
                price_cents: item.starting_price_cents(),
                version: 1,
                updated_at_ms: now_ms,
            })
            .collect();
        Self {
            records: Mutex::new(records),
            read_delay,
        }
    }

    /// The item as it is now, at the source's full cost.
    pub async fn read(&self, item: ItemId) -> ItemRecord {
        if !self.read_delay.is_zero() {
            tokio::time::sleep(self.read_delay).await;
        }
        self.peek(item)
    }

    /// The item as it is now, without the cost: for the page that lays
    /// the truth beside the cache, and for judging answers afterwards.
    pub fn peek(&self, item: ItemId) -> ItemRecord {
        self.records.lock().expect("catalogue source lock poisoned")[item.index()]
    }

    /// Sets the price and returns the record before and after.
    pub fn set_price(
        &self,
        item: ItemId,
        price: PriceCents,
        now_ms: u64,
    ) -> (ItemRecord, ItemRecord) {
        let mut records = self.records.lock().expect("catalogue source lock poisoned");
        let before = records[item.index()];
        let after = ItemRecord {
            price_cents: price.cents(),
            version: before.version + 1,
            updated_at_ms: now_ms,
            ..before
        };
        records[item.index()] = after;
        (before, after)
    }

    pub fn read_delay(&self) -> Duration {
        self.read_delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_found_by_slug_and_only_by_slug() {
        assert_eq!(ItemId::parse("fig").map(ItemId::name), Ok("Fig"));
        assert_eq!(ItemId::parse("Fig"), Err(UnknownItem));
        assert_eq!(ItemId::parse("strategy"), Err(UnknownItem));
        assert_eq!(ItemId::all().count(), ITEM_COUNT);
        assert!(UnknownItem.to_string().contains("apple, banana"));
    }

    #[test]
    fn prices_must_be_whole_cents_within_bounds() {
        assert_eq!(
            PriceCents::from_json(&json!(250)).map(PriceCents::cents),
            Ok(250)
        );
        assert_eq!(
            PriceCents::from_json(&json!(0)).map(PriceCents::cents),
            Ok(0)
        );
        assert_eq!(
            PriceCents::from_json(&json!(-1)),
            Err(PriceRefused::Negative)
        );
        assert_eq!(
            PriceCents::from_json(&json!(-1.5)),
            Err(PriceRefused::Negative)
        );
        assert_eq!(
            PriceCents::from_json(&json!(1.5)),
            Err(PriceRefused::NotWhole)
        );
        assert_eq!(
            PriceCents::from_json(&json!("3")),
            Err(PriceRefused::NotWhole)
        );
        assert_eq!(
            PriceCents::from_json(&json!(MAX_PRICE_CENTS + 1)),
            Err(PriceRefused::TooLarge)
        );
        assert_eq!(
            PriceCents::from_json(&json!(1e300)),
            Err(PriceRefused::TooLarge)
        );
        assert_eq!(PriceCents::parse(" 99 ").map(PriceCents::cents), Ok(99));
        assert_eq!(PriceCents::parse("-5"), Err(PriceRefused::Negative));
        assert_eq!(
            PriceCents::parse("9".repeat(30).as_str()),
            Err(PriceRefused::TooLarge)
        );
        assert_eq!(PriceCents::parse("1.20"), Err(PriceRefused::NotWhole));
        assert_eq!(PriceCents::parse(""), Err(PriceRefused::NotWhole));
    }

    #[tokio::test]
    async fn a_change_bumps_the_version_and_the_source_reads_it_back() {
        let source = Source::new(Duration::ZERO, 1_000);
        let apple = ItemId::parse("apple").expect("apple exists");
        let price = PriceCents::new(130).expect("in bounds");
        let (before, after) = source.set_price(apple, price, 2_000);
        assert_eq!((before.price_cents, before.version), (120, 1));
        assert_eq!(
            (after.price_cents, after.version, after.updated_at_ms),
            (130, 2, 2_000)
        );
        assert_eq!(source.read(apple).await, after);
    }
}
