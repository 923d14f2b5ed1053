//! Conditional GET and HEAD (RFC 9110 §13): whether the client's stored copy
//! is still the current one, so that a 304 with no body can stand in for the
//! whole answer.
//!
//! Only `If-None-Match` is evaluated. Our answers carry no `Last-Modified`,
//! so there is no modification date to hold an `If-Modified-Since` against
//! (§13.1.3 compares it with "the selected representation's last
//! modification date"), and a request carrying only that field gets the full
//! answer, which is always a correct reply to a conditional request.

use std::borrow::Cow;
use std::fmt;

use super::entity_tag::{is_optional_whitespace, parse_leading_entity_tag, EntityTag};

/// An `If-None-Match` field value, read (RFC 9110 §13.1.2):
///
/// ```text
/// If-None-Match = "*" / #entity-tag
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfNoneMatch {
    /// `*`: "any current representation".
    Any,
    /// The listed tags, in order. Can be empty: `#` allows a list with no
    /// members, and such a list matches nothing.
    Tags(Vec<EntityTag>),
}

impl IfNoneMatch {
    /// Reads one field value, all of its field lines already joined with
    /// commas (see [`IfNoneMatch::parse_field_lines`]).
    ///
    /// The list follows RFC 9110 §5.6.1.2: members are separated by commas
    /// with optional spaces or tabs around them, and empty members (`"a", ,
    /// "b"`) are skipped. A value that is neither `*` nor such a list of
    /// entity tags is refused whole, even if some of its members would match:
    /// what a sender meant by a broken list cannot be known, and
    /// [`answers_not_modified`] treats a refused value as "no match", which
    /// costs one full answer and can never serve a stale copy.
    pub fn parse(field_value: &str) -> Result<Self, MalformedIfNoneMatch> {
        if field_value.trim_matches(is_optional_whitespace) == "*" {
            return Ok(Self::Any);
        }
        let malformed_at = |rest: &str| MalformedIfNoneMatch {
            at_byte: field_value.len() - rest.len(),
        };
        let mut tags = Vec::new();
        let mut rest = field_value;
        loop {
            rest = rest.trim_start_matches(is_optional_whitespace);
            if rest.is_empty() {
                break;
            }
            if let Some(after_empty_member) = rest.strip_prefix(',') {
                rest = after_empty_member;
                continue;
            }
            let (tag, after_tag) =
                parse_leading_entity_tag(rest).ok_or_else(|| malformed_at(rest))?;
            tags.push(tag);
            rest = after_tag.trim_start_matches(is_optional_whitespace);
            match rest.strip_prefix(',') {
                Some(after_comma) => rest = after_comma,
                None if rest.is_empty() => break,
                // Two tags need a comma between them.
                None => return Err(malformed_at(rest)),
            }
        }
        Ok(Self::Tags(tags))
    }

    /// Reads a field sent as several field lines. RFC 9110 §5.3 makes them
    /// one value joined by commas, in the order received. Rocket's
    /// `HeaderMap::get_one` returns only the first line; pass `get`'s lines
    /// here so that a tag on a later line still counts.
    pub fn parse_field_lines<'a>(
        field_lines: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, MalformedIfNoneMatch> {
        let field_value = field_lines.into_iter().collect::<Vec<_>>().join(", ");
        Self::parse(&field_value)
    }

    /// Whether the condition is false for the representation tagged
    /// `selected` (RFC 9110 §13.1.2): `*` is false whenever there is a
    /// current representation, which having `selected` means; a list is
    /// false when one of its tags matches `selected` by the weak comparison
    /// (§8.8.3.2), which §13.1.2 requires because a weak tag is enough to
    /// reuse a stored copy.
    ///
    /// False means: answer a GET or HEAD with 304 Not Modified; any other
    /// method with 412 Precondition Failed.
    #[must_use]
    pub fn condition_is_false(&self, selected: &EntityTag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| tag.weakly_matches(selected)),
        }
    }
}

/// The one validator of a GET or HEAD that decides between the full answer
/// and 304 Not Modified, with its field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition<'a> {
    /// Evaluate `If-None-Match` ([`IfNoneMatch`]).
    IfNoneMatch(&'a str),
    /// Evaluate `If-Modified-Since`. Nothing here does: see the module's
    /// documentation.
    IfModifiedSince(&'a str),
    /// Neither was sent: the request is not conditional.
    Unconditional,
}

/// Picks the validator to evaluate, in RFC 9110 §13.2.2's order: step 3
/// evaluates `If-None-Match` when it is present, and step 4 reaches
/// `If-Modified-Since` only when it is not. §13.1.3 says the same from the
/// other side: a recipient MUST ignore `If-Modified-Since` when the request
/// has `If-None-Match`, whose tags are a more accurate replacement for a
/// date.
///
/// `If-None-Match` counts as present even when its value turns out to be
/// malformed, since the client did send it; the request then gets the full
/// answer rather than a guess from the date.
#[must_use]
pub fn precondition_to_evaluate<'a>(
    if_none_match: Option<&'a str>,
    if_modified_since: Option<&'a str>,
) -> Precondition<'a> {
    match (if_none_match, if_modified_since) {
        (Some(if_none_match), _) => Precondition::IfNoneMatch(if_none_match),
        (None, Some(if_modified_since)) => Precondition::IfModifiedSince(if_modified_since),
        (None, None) => Precondition::Unconditional,
    }
}

/// Whether a GET or HEAD of the representation tagged `selected` should be
/// answered 304 Not Modified, given the request's `If-None-Match` (all its
/// field lines joined with `", "`) and `If-Modified-Since` values.
///
/// A malformed `If-None-Match` is not a list of entity tags, so §13.1.2's
/// last step applies: "Otherwise, the condition is true", and the answer is
/// the full one. `If-Modified-Since` alone never gives a 304 here, because
/// our answers have no `Last-Modified` to compare it with.
///
/// A 304 must still carry the `ETag`, `Cache-Control` and `Vary` fields the
/// full answer would have had (RFC 9110 §15.4.5), so that caches can update
/// their stored copy.
#[must_use]
pub fn answers_not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    selected: &EntityTag,
) -> bool {
    match precondition_to_evaluate(if_none_match, if_modified_since) {
        Precondition::IfNoneMatch(field_value) => IfNoneMatch::parse(field_value)
            .is_ok_and(|if_none_match| if_none_match.condition_is_false(selected)),
        Precondition::IfModifiedSince(_) | Precondition::Unconditional => false,
    }
}

/// The validators a GET or HEAD carried, as sent, ready to be held against
/// the selected representation's tag once it is known.
///
/// Reading them costs nothing when there are none, which is the common
/// case: a request that is not conditional allocates nothing here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions<'a> {
    /// Every `If-None-Match` field line, joined as RFC 9110 §5.3 joins them.
    if_none_match: Option<Cow<'a, str>>,
    if_modified_since: Option<&'a str>,
}

impl<'a> Preconditions<'a> {
    /// A request that carried no validators.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// The validators of a request with these `If-None-Match` field lines
    /// (several lines are one list, in order; see
    /// [`IfNoneMatch::parse_field_lines`]) and this `If-Modified-Since`.
    #[must_use]
    pub fn from_field_lines(
        if_none_match_lines: impl IntoIterator<Item = &'a str>,
        if_modified_since: Option<&'a str>,
    ) -> Self {
        let mut lines = if_none_match_lines.into_iter();
        let if_none_match = lines.next().map(|first| match lines.next() {
            None => Cow::Borrowed(first),
            Some(second) => Cow::Owned(
                [first, second]
                    .into_iter()
                    .chain(lines)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        });
        Self {
            if_none_match,
            if_modified_since,
        }
    }

    /// Whether the request carried any validator at all.
    #[must_use]
    pub fn is_conditional(&self) -> bool {
        self.if_none_match.is_some() || self.if_modified_since.is_some()
    }

    /// Whether the answer tagged `selected` should be sent as 304 Not
    /// Modified (see [`answers_not_modified`]).
    #[must_use]
    pub fn answer_not_modified(&self, selected: &EntityTag) -> bool {
        self.is_conditional()
            && answers_not_modified(
                self.if_none_match.as_deref(),
                self.if_modified_since,
                selected,
            )
    }
}

/// An `If-None-Match` value that is neither `*` nor a list of entity tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedIfNoneMatch {
    at_byte: usize,
}

impl MalformedIfNoneMatch {
    /// Where in the field value reading stopped, counted in bytes from 0:
    /// the start of the first thing that is not an entity tag, a comma or
    /// whitespace where one was due.
    #[must_use]
    pub fn at_byte(&self) -> usize {
        self.at_byte
    }
}

impl fmt::Display for MalformedIfNoneMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "If-None-Match is neither \"*\" nor a comma-separated list of entity tags \
             (reading stopped at byte {})",
            self.at_byte
        )
    }
}

impl std::error::Error for MalformedIfNoneMatch {}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(text: &str) -> EntityTag {
        text.parse().expect("a well-formed entity tag")
    }

    fn current() -> EntityTag {
        EntityTag::of_bytes(b"120")
    }

    /// Whether `field_value` makes the current representation's condition
    /// false, i.e. earns a 304.
    fn is_false_for_current(field_value: &str) -> bool {
        answers_not_modified(Some(field_value), None, &current())
    }

    #[test]
    fn a_single_matching_tag_answers_not_modified() {
        assert!(is_false_for_current(&current().to_string()));
    }

    #[test]
    fn a_single_other_tag_answers_in_full() {
        assert!(!is_false_for_current(
            &EntityTag::of_bytes(b"121").to_string()
        ));
        assert!(!is_false_for_current("\"sha256-\""));
    }

    #[test]
    fn a_match_anywhere_in_a_list_counts() {
        let current = current();
        for field_value in [
            format!("{current}, \"other\""),
            format!("\"other\", {current}"),
            format!("\"a\", \"b\", {current}, \"c\""),
        ] {
            assert!(is_false_for_current(&field_value), "{field_value}");
        }
        assert!(!is_false_for_current("\"a\", \"b\", W/\"c\""));
    }

    #[test]
    fn whitespace_and_empty_members_around_commas_are_allowed() {
        let current = current();
        for field_value in [
            format!("  {current}  "),
            format!("\"other\" ,\t{current}"),
            format!("\"other\",{current}"),
            format!(", \"other\", , {current} ,"),
            format!(",,{current},,"),
        ] {
            assert!(is_false_for_current(&field_value), "{field_value:?}");
        }
    }

    #[test]
    fn a_star_matches_any_current_representation() {
        assert!(is_false_for_current("*"));
        assert!(is_false_for_current(" *\t"));
        assert_eq!(IfNoneMatch::parse("*"), Ok(IfNoneMatch::Any));
    }

    #[test]
    fn a_weak_tag_matches_the_same_strong_tag() {
        // If-None-Match uses the weak comparison (RFC 9110 §13.1.2).
        let weak_current = format!("W/{}", current());
        assert!(is_false_for_current(&weak_current));
        assert!(is_false_for_current(&format!("\"x\", {weak_current}")));

        let weak_selected = tag("W/\"v1\"");
        let if_none_match = IfNoneMatch::parse("\"v1\"").expect("one tag");
        assert!(if_none_match.condition_is_false(&weak_selected));
        let if_none_match = IfNoneMatch::parse("W/\"v1\"").expect("one tag");
        assert!(if_none_match.condition_is_false(&weak_selected));
        assert!(!if_none_match.condition_is_false(&tag("W/\"v2\"")));
    }

    #[test]
    fn an_empty_value_is_an_empty_list_and_matches_nothing() {
        for empty in ["", "  ", ",", " , ,\t"] {
            assert_eq!(
                IfNoneMatch::parse(empty),
                Ok(IfNoneMatch::Tags(Vec::new())),
                "{empty:?}"
            );
            assert!(!is_false_for_current(empty), "{empty:?}");
        }
    }

    #[test]
    fn a_comma_inside_quotes_belongs_to_the_tag() {
        assert_eq!(
            IfNoneMatch::parse("\"a,b\", W/\"c\""),
            Ok(IfNoneMatch::Tags(vec![tag("\"a,b\""), tag("W/\"c\"")]))
        );
        assert!(IfNoneMatch::parse("\"a,b\"")
            .expect("one tag")
            .condition_is_false(&tag("\"a,b\"")));
    }

    #[test]
    fn a_malformed_value_is_refused_whole_and_never_matches() {
        let current = current();
        let cases = [
            // (value, where reading stops)
            (current.opaque_tag().to_owned(), 0),
            // The current tag is 41 bytes long.
            (format!("{current} {current}"), 42),
            (format!("{current}; x"), 41),
            (format!("{current}, junk"), 43),
            (format!("junk, {current}"), 0),
            (format!("*, {current}"), 0),
            (format!("{current}, *"), 43),
            (format!("w/{current}"), 0),
            (format!("W/ {current}"), 0),
            (format!("{current}, \"unterminated"), 43),
            // The next quote is found, but a space is no `etagc`.
            (format!("\"unterminated, {current}"), 0),
            ("\"has space\"".to_owned(), 0),
            ("* *".to_owned(), 0),
        ];
        for (field_value, at_byte) in cases {
            let parsed = IfNoneMatch::parse(&field_value);
            assert_eq!(
                parsed.as_ref().map_err(MalformedIfNoneMatch::at_byte),
                Err(at_byte),
                "{field_value:?}"
            );
            assert!(!is_false_for_current(&field_value), "{field_value:?}");
        }
    }

    #[test]
    fn field_lines_are_joined_into_one_list() {
        let current = current();
        let later_line = current.to_string();
        assert!(
            IfNoneMatch::parse_field_lines(["\"other\"", later_line.as_str()])
                .expect("two lines of tags")
                .condition_is_false(&current)
        );
        assert_eq!(
            IfNoneMatch::parse_field_lines(["\"a\", \"b\"", "", "W/\"c\""]),
            Ok(IfNoneMatch::Tags(vec![
                tag("\"a\""),
                tag("\"b\""),
                tag("W/\"c\"")
            ]))
        );
        // `*` is only valid alone, so it cannot share the field with a tag
        // sent on another line.
        assert!(IfNoneMatch::parse_field_lines(["*", "\"a\""]).is_err());
        assert_eq!(IfNoneMatch::parse_field_lines(["*"]), Ok(IfNoneMatch::Any));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            precondition_to_evaluate(Some("\"a\""), Some(date)),
            Precondition::IfNoneMatch("\"a\"")
        );
        assert_eq!(
            precondition_to_evaluate(Some("\"a\""), None),
            Precondition::IfNoneMatch("\"a\"")
        );
        assert_eq!(
            precondition_to_evaluate(Some("not a tag"), Some(date)),
            Precondition::IfNoneMatch("not a tag"),
            "a malformed If-None-Match is still present"
        );
        assert_eq!(
            precondition_to_evaluate(None, Some(date)),
            Precondition::IfModifiedSince(date)
        );
        assert_eq!(
            precondition_to_evaluate(None, None),
            Precondition::Unconditional
        );
    }

    #[test]
    fn only_if_none_match_can_answer_not_modified() {
        let current = current();
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let matching = current.to_string();

        assert!(answers_not_modified(Some(&matching), Some(date), &current));
        assert!(
            !answers_not_modified(Some("\"other\""), Some(date), &current),
            "the date is ignored, even though it is old, when the tags do not match"
        );
        assert!(!answers_not_modified(None, Some(date), &current));
        assert!(!answers_not_modified(None, None, &current));
    }

    #[test]
    fn preconditions_join_field_lines_and_follow_the_same_rules() {
        let current = current();
        let matching = current.to_string();
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";

        assert!(!Preconditions::none().is_conditional());
        assert!(!Preconditions::none().answer_not_modified(&current));
        assert!(Preconditions::from_field_lines([matching.as_str()], None)
            .answer_not_modified(&current));
        assert!(
            Preconditions::from_field_lines(["\"a\"", "\"b\"", matching.as_str()], None)
                .answer_not_modified(&current),
            "a tag on the third field line counts"
        );
        assert!(!Preconditions::from_field_lines(["\"a\"", "\"b\""], None)
            .answer_not_modified(&current));
        assert!(
            !Preconditions::from_field_lines(["*", matching.as_str()], None)
                .answer_not_modified(&current),
            "`*` joined with a tag is malformed"
        );
        let only_date = Preconditions::from_field_lines([], Some(date));
        assert!(only_date.is_conditional());
        assert!(!only_date.answer_not_modified(&current));
        assert!(
            Preconditions::from_field_lines([matching.as_str()], Some(date))
                .answer_not_modified(&current)
        );
    }
}
