//! Parsing the options of `#[testbed::test(...)]`.

use std::time::Duration;

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitStr, Token};

const VALID: &str = "expected `timeout = \"<duration>\"`";

/// The options of one `#[testbed::test]`.
#[derive(Default)]
pub(crate) struct TestOptions {
    pub(crate) timeout: Option<Duration>,
}

impl Parse for TestOptions {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = TestOptions::default();
        let pairs = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(input)?;
        for pair in pairs {
            let Some(name) = pair.path.get_ident() else {
                return Err(syn::Error::new_spanned(&pair.path, VALID));
            };
            match name.to_string().as_str() {
                "timeout" => {
                    if options.timeout.is_some() {
                        return Err(syn::Error::new_spanned(name, "`timeout` given twice"));
                    }
                    let literal: LitStr = syn::parse2(quote::ToTokens::to_token_stream(
                        &pair.value,
                    ))
                    .map_err(|_| {
                        syn::Error::new_spanned(
                            &pair.value,
                            "expected a string such as `\"500ms\"`, `\"5s\"` or `\"2m\"`",
                        )
                    })?;
                    let duration = parse_duration(&literal.value())
                        .map_err(|message| syn::Error::new_spanned(&literal, message))?;
                    options.timeout = Some(duration);
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        name,
                        format!("unknown option `{other}`: {VALID}"),
                    ));
                }
            }
        }
        Ok(options)
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
    use super::parse_duration;
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
}
