//! Parsing the macros' arguments, listing and validating the files they name, and the
//! code that embeds them.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{LitStr, Token};

/// sqlx's default, and the directory `migrations!()` embeds.
const DEFAULT_DIR: &str = "migrations";

/// The backend subdirectories testbed-db picks from (`Backend::name()` of each), with the
/// variant that names them.
const BACKENDS: [(&str, &str); 3] = [
    ("sqlite", "Sqlite"),
    ("postgres", "Postgres"),
    ("mysql", "MySql"),
];

const RELATIVE_HINT: &str =
    "(hint: the path is relative to the directory of the crate's Cargo.toml)";

/// `migrations!()` or `migrations!("dir")`.
pub struct MigrationsInput(Option<LitStr>);

impl Parse for MigrationsInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(MigrationsInput(None));
        }
        let dir = input.parse::<LitStr>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the migrations directory as a string literal, relative to the crate's Cargo.toml: `migrations!(\"migrations\")`",
            )
        })?;
        input.parse::<Option<Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error(
                "expected one argument, the migrations directory: `migrations!(\"migrations\")`",
            ));
        }
        Ok(MigrationsInput(Some(dir)))
    }
}

/// `seeds!["a.sql", "b.sql"]`.
pub struct SeedsInput(Punctuated<LitStr, Token![,]>);

impl Parse for SeedsInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Punctuated::parse_terminated(input)
            .map(SeedsInput)
            .map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected seed files as string literals, relative to the crate's Cargo.toml: `seeds![\"tests/seeds.sql\"]`",
                )
            })
    }
}

/// One up (or simple) migration file, named as sqlx names it.
#[derive(Debug, PartialEq)]
struct Migration {
    version: i64,
    description: String,
    reversible: bool,
    file: String,
}

pub fn migrations(input: MigrationsInput) -> syn::Result<TokenStream> {
    let (given, span) = match &input.0 {
        Some(lit) => (lit.value(), lit.span()),
        None => (DEFAULT_DIR.to_owned(), Span::call_site()),
    };
    let dir = resolve(&given, span)?;
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a directory"
        } else {
            "not found"
        };
        return Err(syn::Error::new(
            span,
            format!("migrations directory `{given}` {what} {RELATIVE_HINT}"),
        ));
    }
    let dir = dir.canonicalize().map_err(|e| {
        syn::Error::new(
            span,
            format!("cannot read migrations directory `{given}`: {e}"),
        )
    })?;
    let mut sets = vec![set(&dir, None, span)?];
    for (name, variant) in BACKENDS {
        let sub = dir.join(name);
        if sub.is_dir() {
            sets.push(set(&sub, Some(variant), span)?);
        }
    }
    let dir = path_str(&dir, span)?;
    Ok(quote! {
        ::testbed_db::__private::migrations(const {
            &::testbed_db::__private::EmbeddedMigrations {
                dir: #dir,
                sets: &[#(#sets),*],
            }
        })
    })
}

/// The SHA-384 of the file at `path`, as sqlx checksums a migration's SQL. Read in the
/// same compilation as the `include_str!` beside it, so the two always agree.
fn checksum(path: &Path) -> Result<Vec<u8>, String> {
    use sha2::Digest;
    let sql = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read migration `{}`: {e}", path.display()))?;
    Ok(sha2::Sha384::digest(sql.as_bytes()).to_vec())
}

/// The migrations of one directory (the root or a backend's subdirectory).
fn set(dir: &Path, backend: Option<&str>, span: Span) -> syn::Result<TokenStream> {
    let backend = match backend {
        Some(variant) => {
            let variant = syn::Ident::new(variant, Span::call_site());
            quote!(::core::option::Option::Some(::testbed_db::Backend::#variant))
        }
        None => quote!(::core::option::Option::None),
    };
    let migrations = list(dir)
        .map_err(|message| syn::Error::new(span, message))?
        .into_iter()
        .map(|m| {
            let Migration {
                version,
                description,
                reversible,
                file,
            } = m;
            let path = path_str(&dir.join(&file), span)?;
            let checksum = checksum(&dir.join(&file)).map_err(|e| syn::Error::new(span, e))?;
            Ok(quote! {
                ::testbed_db::__private::EmbeddedMigration {
                    version: #version,
                    description: #description,
                    reversible: #reversible,
                    file: #file,
                    sql: ::core::include_str!(#path),
                    checksum: &[#(#checksum),*],
                }
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote! {
        ::testbed_db::__private::EmbeddedSet {
            backend: #backend,
            migrations: &[#(#migrations),*],
        }
    })
}

/// The up migrations in `dir`, by version, with the rules of sqlx's `resolve`: a file
/// named `<version>_<description>.sql` (`.up.sql`, `.down.sql`); other files are ignored;
/// a name with that shape whose version is not an integer is an error. Down migrations
/// are left out: a template only ever migrates up.
fn list(dir: &Path) -> Result<Vec<Migration>, String> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read migrations directory `{shown}`: {e}"))?;
    let mut migrations = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| format!("cannot read migrations directory `{shown}`: {e}"))?;
        if !entry.path().is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "migration file name `{}` in `{shown}` is not UTF-8",
                name.to_string_lossy()
            ));
        };
        if let Some(migration) = parse_name(name)? {
            migrations.push(migration);
        }
    }
    migrations.sort_by_key(|m| m.version);
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(format!(
                "migrations `{}` and `{}` in `{shown}` have the same version {} (hint: give each migration its own version)",
                pair[0].file, pair[1].file, pair[0].version
            ));
        }
    }
    Ok(migrations)
}

/// A migration from its file name, `None` for a file sqlx ignores or a down migration.
fn parse_name(name: &str) -> Result<Option<Migration>, String> {
    let Some((version, rest)) = name.split_once('_') else {
        return Ok(None);
    };
    if !rest.ends_with(".sql") || rest.ends_with(".down.sql") {
        return Ok(None);
    }
    let version: i64 = version.parse().map_err(|_| {
        format!(
            "migration file name `{name}` has no integer version (hint: name it `<version>_<description>.sql`, as `0001_users.sql`)"
        )
    })?;
    let reversible = rest.ends_with(".up.sql");
    let suffix = if reversible { ".up.sql" } else { ".sql" };
    Ok(Some(Migration {
        version,
        // As sqlx describes it, so `_sqlx_migrations` holds what `migrate!` would write.
        description: rest.trim_end_matches(suffix).replace('_', " "),
        reversible,
        file: name.to_owned(),
    }))
}

pub fn seeds(input: SeedsInput) -> syn::Result<TokenStream> {
    let seeds = input
        .0
        .iter()
        .map(|lit| {
            let given = lit.value();
            let path = resolve(&given, lit.span())?;
            if !path.is_file() {
                let what = if path.exists() {
                    "is not a file"
                } else {
                    "not found"
                };
                return Err(syn::Error::new(
                    lit.span(),
                    format!("seed file `{given}` {what} {RELATIVE_HINT}"),
                ));
            }
            let path = path.canonicalize().map_err(|e| {
                syn::Error::new(lit.span(), format!("cannot read seed file `{given}`: {e}"))
            })?;
            let path = path_str(&path, lit.span())?;
            Ok(quote! {
                ::testbed_db::__private::seed(#path, ::core::include_str!(#path))
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote! {
        const { &[#(#seeds),*] }
    })
}

/// `path` relative to the crate being compiled.
fn resolve(path: &str, span: Span) -> syn::Result<PathBuf> {
    let path = Path::new(path);
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    let root = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        syn::Error::new(
            span,
            "`CARGO_MANIFEST_DIR` is not set, so a relative path has no crate to start from (hint: build with cargo, or give an absolute path)",
        )
    })?;
    Ok(Path::new(&root).join(path))
}

/// `include_str!` takes a string.
fn path_str(path: &Path, span: Span) -> syn::Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        syn::Error::new(
            span,
            format!(
                "path `{}` is not UTF-8, so it cannot be embedded",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str) -> Option<(i64, String, bool)> {
        parse_name(name)
            .unwrap()
            .map(|m| (m.version, m.description, m.reversible))
    }

    #[test]
    fn names_are_read_as_sqlx_reads_them() {
        assert_eq!(parsed("0001_users.sql"), Some((1, "users".into(), false)));
        assert_eq!(
            parsed("20240101_add_orders.up.sql"),
            Some((20240101, "add orders".into(), true))
        );
        assert_eq!(parsed("0002_add_orders.down.sql"), None);
        assert_eq!(parsed("README.md"), None);
        assert_eq!(parsed("schema.sql"), None);
        assert_eq!(parsed("0003_notes.txt"), None);
    }

    #[test]
    fn a_name_without_an_integer_version_is_an_error_with_a_hint() {
        let error = parse_name("first_users.sql").unwrap_err();
        assert!(error.contains("`first_users.sql`"), "{error}");
        assert!(error.contains("hint:"), "{error}");
    }

    #[test]
    fn listing_sorts_by_version_skips_down_files_and_rejects_duplicates() {
        let dir = std::env::temp_dir().join(format!("testbed-db-macros-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("postgres")).unwrap();
        for file in ["10_b.sql", "2_a.up.sql", "2_a.down.sql", "notes.md"] {
            std::fs::write(dir.join(file), "select 1;").unwrap();
        }
        let files: Vec<_> = list(&dir).unwrap().into_iter().map(|m| m.file).collect();
        assert_eq!(files, ["2_a.up.sql", "10_b.sql"]);
        std::fs::write(dir.join("02_again.sql"), "select 2;").unwrap();
        let error = list(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("the same version 2"), "{error}");
    }
}
