//! Parsing the options of `#[testbed::test(...)]`.

use std::time::Duration;

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Meta, Path, Token};

const VALID: &str =
    "expected `timeout = \"<duration>\"`, `scenarios(...)`, `resources(...)` or `allow_leaks(...)`";

/// The leak categories `allow_leaks(...)` accepts, with the `testbed::leaks::Category`
/// variant each names.
pub(crate) const LEAK_CATEGORIES: [(&str, &str); 9] = [
    ("env", "Env"),
    ("cwd", "Cwd"),
    ("threads", "Threads"),
    ("fds", "Fds"),
    ("children", "Children"),
    ("temp_files", "TempFiles"),
    ("tasks", "Tasks"),
    ("overrides", "Overrides"),
    ("handles", "Handles"),
];

/// The options of one `#[testbed::test]`.
#[derive(Default)]
pub(crate) struct TestOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) scenarios: Option<Scenarios>,
    pub(crate) resources: Vec<ResourceItem>,
    /// The `testbed::leaks::Category` variants `allow_leaks(...)` names.
    pub(crate) allow_leaks: Vec<Ident>,
}

/// One item of `resources(...)`: a resource every scenario uses, or `scenario = [...]`
/// resources only the tests of that scenario use.
pub(crate) enum ResourceItem {
    Always(Path),
    ForScenario(Ident, Vec<Path>),
}

impl Parse for ResourceItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(syn::Ident) && input.peek2(Token![=]) {
            let scenario: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let content;
            syn::bracketed!(content in input);
            let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
            return Ok(ResourceItem::ForScenario(
                scenario,
                paths.into_iter().collect(),
            ));
        }
        Ok(ResourceItem::Always(input.parse()?))
    }
}

/// The scenarios a test runs in: one list, or several named lists multiplied.
pub(crate) struct Scenarios {
    /// Each dimension's name and values; a plain list is one dimension named `scenario`.
    pub(crate) dimensions: Vec<(String, Vec<Ident>)>,
}

impl Parse for TestOptions {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = TestOptions::default();
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated(input)?;
        for meta in metas {
            let Some(name) = meta.path().get_ident() else {
                return Err(syn::Error::new_spanned(meta.path(), VALID));
            };
            match (name.to_string().as_str(), &meta) {
                ("timeout", Meta::NameValue(pair)) => {
                    if options.timeout.is_some() {
                        return Err(syn::Error::new_spanned(name, "`timeout` given twice"));
                    }
                    options.timeout = Some(parse_timeout(&pair.value)?);
                }
                ("scenarios", Meta::List(list)) => {
                    if options.scenarios.is_some() {
                        return Err(syn::Error::new_spanned(name, "`scenarios` given twice"));
                    }
                    options.scenarios = Some(list.parse_args()?);
                }
                ("resources", Meta::List(list)) => {
                    let items = list
                        .parse_args_with(Punctuated::<ResourceItem, Token![,]>::parse_terminated)?;
                    options.resources.extend(items);
                }
                ("allow_leaks", Meta::List(list)) => {
                    let names =
                        list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated)?;
                    if names.is_empty() {
                        return Err(syn::Error::new_spanned(
                            list,
                            format!("`allow_leaks()` is empty: {}", leak_categories_hint()),
                        ));
                    }
                    for name in names {
                        let text = name.to_string();
                        let Some((_, variant)) =
                            LEAK_CATEGORIES.iter().find(|(known, _)| *known == text)
                        else {
                            return Err(syn::Error::new_spanned(
                                &name,
                                format!(
                                    "unknown leak category `{text}`: {}",
                                    leak_categories_hint()
                                ),
                            ));
                        };
                        let variant = Ident::new(variant, name.span());
                        if options.allow_leaks.contains(&variant) {
                            return Err(syn::Error::new_spanned(
                                &name,
                                format!("leak category `{text}` listed twice"),
                            ));
                        }
                        options.allow_leaks.push(variant);
                    }
                }
                (other, _) => {
                    return Err(syn::Error::new_spanned(
                        &meta,
                        format!("unknown or malformed option `{other}`: {VALID}"),
                    ));
                }
            }
        }
        options.check_scenario_resources()?;
        Ok(options)
    }
}

impl TestOptions {
    /// Every `scenario = [...]` of `resources(...)` must name one of the test's scenarios.
    fn check_scenario_resources(&self) -> syn::Result<()> {
        for item in &self.resources {
            let ResourceItem::ForScenario(scenario, _) = item else {
                continue;
            };
            let known = self.scenarios.as_ref().is_some_and(|scenarios| {
                scenarios
                    .dimensions
                    .iter()
                    .any(|(_, values)| values.iter().any(|value| value == scenario))
            });
            if !known {
                return Err(syn::Error::new_spanned(
                    scenario,
                    format!(
                        "resources for `{scenario}`, which is not a scenario of this test \
                         (hint: list it in `scenarios(...)`)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn leak_categories_hint() -> String {
    let names: Vec<String> = LEAK_CATEGORIES
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    format!("expected some of {}", names.join(", "))
}

fn parse_timeout(value: &syn::Expr) -> syn::Result<Duration> {
    let literal: LitStr = syn::parse2(quote::ToTokens::to_token_stream(value)).map_err(|_| {
        syn::Error::new_spanned(
            value,
            "expected a string such as `\"500ms\"`, `\"5s\"` or `\"2m\"`",
        )
    })?;
    parse_duration(&literal.value()).map_err(|message| syn::Error::new_spanned(&literal, message))
}

/// One item of `scenarios(...)`: a bare name, or `dimension = [names]`.
enum ScenarioItem {
    Name(Ident),
    Dimension(Ident, Vec<Ident>),
}

impl Parse for ScenarioItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Ok(ScenarioItem::Name(name));
        }
        input.parse::<Token![=]>()?;
        let content;
        syn::bracketed!(content in input);
        let values = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
        if values.is_empty() {
            return Err(syn::Error::new_spanned(
                name,
                "a dimension needs at least one scenario",
            ));
        }
        Ok(ScenarioItem::Dimension(name, values.into_iter().collect()))
    }
}

impl Parse for Scenarios {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let span = input.span();
        let items = Punctuated::<ScenarioItem, Token![,]>::parse_terminated(input)?;
        let mut names = Vec::new();
        let mut dimensions = Vec::new();
        for item in items {
            match item {
                ScenarioItem::Name(name) => names.push(name),
                ScenarioItem::Dimension(name, values) => {
                    dimensions.push((name.to_string(), values));
                }
            }
        }
        let scenarios = match (names.is_empty(), dimensions.is_empty()) {
            (false, true) => Scenarios {
                dimensions: vec![("scenario".to_owned(), names)],
            },
            (true, false) => Scenarios { dimensions },
            (true, true) => {
                return Err(syn::Error::new(
                    span,
                    "`scenarios()` is empty: name at least one, as in `scenarios(memory, sqlite)`",
                ));
            }
            (false, false) => {
                return Err(syn::Error::new(
                    span,
                    "mix of plain scenarios and dimensions: write either `scenarios(a, b)` \
                     or `scenarios(backend = [a, b], format = [x, y])`",
                ));
            }
        };
        scenarios.check_unique()?;
        Ok(scenarios)
    }
}

impl Scenarios {
    /// Every scenario, as its values in dimension order.
    pub(crate) fn combinations(&self) -> Vec<Vec<&Ident>> {
        let mut combinations = vec![Vec::new()];
        for (_, values) in &self.dimensions {
            combinations = combinations
                .into_iter()
                .flat_map(|prefix: Vec<&Ident>| {
                    values.iter().map(move |value| {
                        let mut combination = prefix.clone();
                        combination.push(value);
                        combination
                    })
                })
                .collect();
        }
        combinations
    }

    fn check_unique(&self) -> syn::Result<()> {
        for (_, values) in &self.dimensions {
            for (index, value) in values.iter().enumerate() {
                if values[..index].iter().any(|earlier| earlier == value) {
                    return Err(syn::Error::new_spanned(
                        value,
                        format!("scenario `{value}` listed twice"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Parses `"250ms"`, `"5s"` or `"2m"`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration `{text}`: expected a whole number and a unit, such as `500ms`, `5s` or `2m`"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(amount)),
        "s" => Ok(Duration::from_secs(amount)),
        "m" => Ok(Duration::from_secs(amount * 60)),
        other => Err(format!(
            "invalid duration unit `{other}` in `{text}`: expected `ms`, `s` or `m`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{TestOptions, parse_duration};
    use std::time::Duration;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_duration("fast").unwrap_err().contains("whole number"));
        assert!(
            parse_duration("5h")
                .unwrap_err()
                .contains("`ms`, `s` or `m`")
        );
    }

    fn parse(tokens: &str) -> syn::Result<TestOptions> {
        syn::parse_str(tokens)
    }

    #[test]
    fn parses_a_plain_scenario_list() {
        let options = parse("scenarios(memory, sqlite), timeout = \"1s\"").unwrap();
        let scenarios = options.scenarios.unwrap();
        assert_eq!(scenarios.dimensions.len(), 1);
        assert_eq!(scenarios.dimensions[0].0, "scenario");
        assert_eq!(scenarios.dimensions[0].1.len(), 2);
        assert_eq!(options.timeout, Some(Duration::from_secs(1)));
    }

    #[test]
    fn parses_multiplied_dimensions_and_resources() {
        let options = parse(
            "scenarios(backend = [memory, sqlite], format = [json]), \
             resources(A, b::C, sqlite = [D])",
        )
        .unwrap();
        let names: Vec<_> = options
            .scenarios
            .unwrap()
            .dimensions
            .into_iter()
            .map(|(name, values)| (name, values.len()))
            .collect();
        assert_eq!(names, [("backend".to_owned(), 2), ("format".to_owned(), 1)]);
        assert_eq!(options.resources.len(), 3);
    }

    #[test]
    fn rejects_mixed_duplicate_and_empty_scenarios() {
        let mixed = parse("scenarios(a, backend = [b])")
            .err()
            .unwrap()
            .to_string();
        assert!(mixed.contains("mix of plain scenarios"));
        let twice = parse("scenarios(a, a)").err().unwrap().to_string();
        assert!(twice.contains("listed twice"));
        let empty = parse("scenarios()").err().unwrap().to_string();
        assert!(empty.contains("empty"));
        let stray = parse("scenarios(a), resources(b = [X])")
            .err()
            .unwrap()
            .to_string();
        assert!(stray.contains("not a scenario of this test"));
        let unknown = parse("retries = 3").err().unwrap().to_string();
        assert!(unknown.contains("unknown or malformed option `retries`"));
    }

    #[test]
    fn parses_and_checks_leak_categories() {
        let options = parse("allow_leaks(threads, temp_files)").unwrap();
        let variants: Vec<String> = options.allow_leaks.iter().map(|v| v.to_string()).collect();
        assert_eq!(variants, ["Threads", "TempFiles"]);
        let unknown = parse("allow_leaks(sockets)").err().unwrap().to_string();
        assert!(
            unknown.contains("unknown leak category `sockets`: expected some of `env`, `cwd`, `threads`, `fds`, `children`, `temp_files`, `tasks`, `overrides`, `handles`"),
            "{unknown}"
        );
        let twice = parse("allow_leaks(fds, fds)").err().unwrap().to_string();
        assert!(twice.contains("listed twice"), "{twice}");
        let empty = parse("allow_leaks()").err().unwrap().to_string();
        assert!(empty.contains("is empty"), "{empty}");
    }
}
