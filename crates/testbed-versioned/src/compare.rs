//! [`CompareObj`] (oslo's `compare_obj`): a serde value against a database row read as
//! JSON, field by field, with columns named otherwise, fields the row may lack, custom
//! comparators, and timestamps compared as instants whatever their time zones.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// A comparator for one field: the value's JSON and the row's.
type Comparator = Box<dyn Fn(&Value, &Value) -> bool + Send + Sync>;

/// How a value is compared with a row.
///
/// The row is JSON, as the database gives it: PostgreSQL's `row_to_json(t)`, MySQL's
/// `JSON_OBJECT('id', id, ...)`, SQLite's `json_object('id', id, ...)`, or any map of
/// column names to values. Fields are compared as JSON, except that numbers compare by
/// value (`1` and `1.0`), a boolean matches `0`/`1` (MySQL and SQLite store booleans as
/// integers), and two strings that are both timestamps (`2024-05-01T10:00:00+02:00`,
/// `2024-05-01 08:00:00Z`; one without an offset is taken as UTC) compare as instants.
///
/// ```
/// use serde::Serialize;
/// use serde_json::json;
/// use testbed_versioned::CompareObj;
///
/// #[derive(Serialize)]
/// struct Order { id: u64, total: f64, placed_at: String, paid: bool, note: Option<String> }
///
/// let order = Order { id: 7, total: 12.0, placed_at: "2024-05-01T10:00:00+02:00".into(),
///     paid: true, note: None };
/// let row = json!({"id": 7, "total_cents": 1200, "placed_at": "2024-05-01 08:00:00+00", "paid": 1});
/// CompareObj::new()
///     .column("total", "total_cents")
///     .comparing("total", |value, column| value.as_f64().map(|v| v * 100.0) == column.as_f64())
///     .allow_missing("note")
///     .check(&order, &row)?;
/// # Ok::<(), testbed_versioned::CompareObjError>(())
/// ```
#[derive(Default)]
pub struct CompareObj {
    columns: Vec<(String, String)>,
    missing: Vec<String>,
    comparators: Vec<(String, Comparator)>,
}

impl fmt::Debug for CompareObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompareObj")
            .field("columns", &self.columns)
            .field("missing", &self.missing)
            .field(
                "comparators",
                &self
                    .comparators
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The value and the row differ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("match the value with the row:\n  - {}", differences.join("\n  - "))]
pub struct CompareObjError {
    /// Each difference, naming the field and its column.
    pub differences: Vec<String>,
}

impl CompareObj {
    /// Fields compared as they are, every one required.
    pub fn new() -> Self {
        CompareObj::default()
    }

    /// Field `field` is column `column` in the row.
    pub fn column(mut self, field: &str, column: &str) -> Self {
        self.columns.push((field.to_owned(), column.to_owned()));
        self
    }

    /// The row may lack field `field` (a column the query did not select).
    pub fn allow_missing(mut self, field: &str) -> Self {
        self.missing.push(field.to_owned());
        self
    }

    /// Field `field` matches its column when `matches(value, column)` says so.
    pub fn comparing(
        mut self,
        field: &str,
        matches: impl Fn(&Value, &Value) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.comparators.push((field.to_owned(), Box::new(matches)));
        self
    }

    /// Compares `value` (a struct: a JSON object) with `row`, every field of the value.
    pub fn check<T: Serialize>(&self, value: &T, row: &Value) -> Result<(), CompareObjError> {
        let fail = |text: String| CompareObjError {
            differences: vec![text],
        };
        let value = serde_json::to_value(value)
            .map_err(|error| fail(format!("the value is not JSON: {error}")))?;
        let Value::Object(fields) = value else {
            return Err(fail(format!("the value is not a struct: {value}")));
        };
        let Value::Object(columns) = row else {
            return Err(fail(format!("the row is not an object of columns: {row}")));
        };
        let mut differences = Vec::new();
        for (field, value) in &fields {
            let column = self
                .columns
                .iter()
                .find(|(name, _)| name == field)
                .map_or(field.as_str(), |(_, column)| column.as_str());
            let Some(found) = columns.get(column) else {
                if !self.missing.iter().any(|name| name == field) {
                    differences.push(format!("`{field}`: the row has no column `{column}`"));
                }
                continue;
            };
            let matches = match self.comparators.iter().find(|(name, _)| name == field) {
                Some((_, matches)) => matches(value, found),
                None => same(value, found),
            };
            if !matches {
                differences.push(format!(
                    "`{field}`: {value} in the value, {found} in column `{column}`"
                ));
            }
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(CompareObjError { differences })
        }
    }
}

/// Equal as the databases store them: numbers by value, booleans as 0/1, timestamps as
/// instants.
fn same(value: &Value, column: &Value) -> bool {
    match (value, column) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Bool(flag), Value::Number(number)) | (Value::Number(number), Value::Bool(flag)) => {
            number.as_u64() == Some(u64::from(*flag))
        }
        (Value::String(a), Value::String(b)) if a != b => {
            matches!((instant(a), instant(b)), (Some(a), Some(b)) if a == b)
        }
        _ => value == column,
    }
}

/// A timestamp as (seconds since the epoch, nanoseconds): `YYYY-MM-DD`, `T` or a space,
/// `HH:MM:SS`, an optional fraction, and `Z`, `+HH`, `+HHMM`, `+HH:MM` or nothing (UTC).
fn instant(text: &str) -> Option<(i64, u32)> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if text.get(4..5)? != "-" || text.get(7..8)? != "-" || !matches!(text.get(10..11)?, "T" | " ") {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = text.get(19..)?;
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits: String = fraction.chars().take_while(char::is_ascii_digit).collect();
        rest = &fraction[digits.len()..];
        let padded = format!("{digits:0<9}");
        nanos = padded.get(..9)?.parse().ok()?;
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        zone => {
            let sign = match zone.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let (hours, minutes) = match digits.len() {
                2 => (digits.parse::<i64>().ok()?, 0),
                4 => (
                    digits[..2].parse::<i64>().ok()?,
                    digits[2..].parse::<i64>().ok()?,
                ),
                _ => return None,
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((seconds, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_instants_whatever_their_zone() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            instant("2024-05-01T10:00:00+02:00"),
            instant("2024-05-01 08:00:00")
        );
        assert_eq!(
            instant("2024-05-01T10:00:00.5+0200"),
            Some((instant("2024-05-01T08:00:00Z").unwrap().0, 500_000_000))
        );
        assert_eq!(
            instant("2000-03-01T00:00:00-01"),
            instant("2000-03-01T01:00:00Z")
        );
        assert_eq!(instant("not a time"), None);
        assert!(same(
            &Value::from("2024-05-01T10:00:00+02:00"),
            &Value::from("2024-05-01 08:00:00+00")
        ));
        assert!(!same(
            &Value::from("2024-05-01T10:00:00+02:00"),
            &Value::from("2024-05-01 10:00:00+00")
        ));
    }
}
