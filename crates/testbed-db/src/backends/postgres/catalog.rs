//! What recycling reads from a database's catalog: a fingerprint of its schema (to tell
//! whether a test changed it) and the objects behind it (to undo what a test added).
//! The cheaper check that stands in for the fingerprint is `schema_check`'s; a
//! database's rows and sequences are the `rows` module's.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::marks::own_setting;
use crate::{Backend, ServerCallError};

/// The first object id a user's object gets (`FirstNormalObjectId`): lower ones are
/// the system's, made by `initdb`.
pub(super) const FIRST_USER_OID: u32 = 16384;

/// The database a session is on.
pub(super) const THIS_DATABASE: &str =
    "select oid from pg_database where datname = current_database()";

/// User schemas: everything but the system's and temporary ones.
pub(super) const USER_NAMESPACES: &str = "select oid from pg_namespace where nspname not in ('pg_catalog', 'information_schema') and nspname not like 'pg\\_toast%' and nspname not like 'pg\\_temp%'";

/// The fingerprint's query: the user schemas (with their owners and grants), their
/// relations (tables, views, indexes, sequences) with their columns and column
/// defaults, and their constraints, each by its object id and the catalog columns an
/// `ALTER` can change in place (a relation's owner, row-level security switches and
/// grants, a column's grants, a sequence's options among them); and their triggers,
/// functions and procedures, types (enums and their values, domains, ranges), rewrite
/// rules (a view's query among them), row-level policies, extensions, inheritance
/// (an attached partition among it), operators and casts, event triggers, default
/// privileges, large objects (rows of a kind the reset does not delete), publications
/// and the tables in them, foreign-data wrappers, servers and tables, collations,
/// extended statistics (by name and table: a test that makes one again under the same
/// name would fail), text search configurations (with their mappings) and
/// dictionaries, and the database's settings (`ALTER DATABASE ... SET`, which a clone
/// gets from its template when it is marked: see `marks::mark`), but testbed's own.
/// And a pooled database's grants, connection limit and comment, read only when they
/// are not what testbed gave it (`CREATE DATABASE`'s grants and limit, and the pool's
/// comment, without which no claimer would take it and no prune drop it): the
/// template's own, which a clone does not get, are not compared.
///
/// Not read, as changing none of a query's results: comments, extended statistics'
/// targets, storage parameters. Not read either: conversions, operator classes and
/// families, access methods, languages, transforms and text search parsers and
/// templates (the last five need a superuser, and are most often made by an
/// extension, which is read). Not read either: the contents of a large object the template
/// made, a publication's schemas (`FOR TABLES IN SCHEMA`, PostgreSQL 15's
/// `pg_publication_namespace`), and user mappings, whose catalog only a superuser may
/// read.
///
/// A clone has the template's object ids, so a test that drops an object and makes it
/// again, even the same, changes the fingerprint, as does any addition, removal, rename
/// or change of a column's type, collation, nullability, identity or default, or of a
/// sequence's options. The objects of the
/// second kind are changed in place by statements that keep their ids (`CREATE OR
/// REPLACE FUNCTION`, `CREATE OR REPLACE VIEW`, `ALTER TABLE ... DISABLE TRIGGER`):
/// their rows are read with the id of the transaction that wrote them (`xmin`), which
/// a clone keeps as the template wrote it and any such statement replaces. Nothing that
/// only writes rows (`TRUNCATE` included) rewrites those catalog rows. Functions and
/// types are looked up by object id from [`FIRST_USER_OID`] up, through their catalogs'
/// indexes: the system's own (3,000 functions) are below it, and scanning them cost
/// 1.2 ms.
///
/// Raw catalog columns, not their text forms (`regclass`, `format_type`,
/// `pg_get_constraintdef`), which cost a catalog lookup per row: about 0.75 ms of the
/// server's time on the bench's 22-table schema, against 1.2 ms.
pub(crate) fn fingerprint_sql() -> String {
    format!(
        "select md5(coalesce(string_agg(part, ';' order by part collate \"C\"), '')) from (
           select concat_ws(' ', 'n', oid, nspname, nspowner, nspacl) as part
             from pg_namespace where oid in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'r', c.oid, c.relnamespace, c.relname, c.relkind,
                            c.relpersistence, c.relowner, c.relrowsecurity,
                            c.relforcerowsecurity, c.relacl,
                            (select string_agg(concat_ws(' ', attnum, attname, atttypid,
                                                         atttypmod, attcollation, attnotnull,
                                                         attidentity, attgenerated, attacl),
                                               ',' order by attnum)
                               from pg_attribute
                               where attrelid = c.oid and attnum > 0 and not attisdropped),
                            (select string_agg(concat_ws(' ', oid, adnum), ',' order by adnum)
                               from pg_attrdef where adrelid = c.oid))
             from pg_class c where c.relnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'c', oid, conrelid, contypid, conname, contype, condeferrable,
                            condeferred, convalidated)
             from pg_constraint where connamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 's', seqrelid, seqtypid, seqstart, seqincrement, seqmax,
                            seqmin, seqcache, seqcycle)
             from pg_sequence where seqrelid >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 't', oid, tgrelid, tgname, xmin)
             from pg_trigger where not tgisinternal
           union all
           select concat_ws(' ', 'f', oid, pronamespace, proname, xmin)
             from pg_proc where oid >= {FIRST_USER_OID} and pronamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'y', oid, typnamespace, typname, xmin)
             from pg_type
             where oid >= {FIRST_USER_OID} and typnamespace in ({USER_NAMESPACES}) and typrelid = 0
           union all
           select concat_ws(' ', 'e', oid, enumtypid, enumlabel, xmin)
             from pg_enum where enumtypid >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'w', oid, ev_class, rulename, xmin)
             from pg_rewrite where ev_class >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'p', oid, polrelid, polname, xmin) from pg_policy
           union all
           select concat_ws(' ', 'x', oid, extname, extversion, xmin)
             from pg_extension where oid >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'h', inhrelid, inhparent, inhseqno, xmin)
             from pg_inherits where inhrelid >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'o', oid, oprnamespace, oprname, xmin)
             from pg_operator where oid >= {FIRST_USER_OID} and oprnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'k', oid, castsource, casttarget, xmin)
             from pg_cast where oid >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'v', oid, evtname, xmin) from pg_event_trigger
           union all
           select concat_ws(' ', 'a', oid, xmin) from pg_default_acl
           union all
           select concat_ws(' ', 'l', oid, xmin) from pg_largeobject_metadata
           union all
           select concat_ws(' ', 'b', oid, pubname, xmin) from pg_publication
           union all
           select concat_ws(' ', 'bt', oid, prpubid, prrelid, xmin) from pg_publication_rel
           union all
           select concat_ws(' ', 'fw', oid, fdwname, xmin) from pg_foreign_data_wrapper
           union all
           select concat_ws(' ', 'fs', oid, srvname, xmin) from pg_foreign_server
           union all
           select concat_ws(' ', 'ft', ftrelid, ftserver, xmin) from pg_foreign_table
           union all
           select concat_ws(' ', 'co', oid, collnamespace, collname, xmin)
             from pg_collation
             where oid >= {FIRST_USER_OID} and collnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'st', oid, stxnamespace, stxname, stxrelid)
             from pg_statistic_ext where stxnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'tc', oid, cfgnamespace, cfgname, xmin)
             from pg_ts_config where oid >= {FIRST_USER_OID} and cfgnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'tm', mapcfg, maptokentype, mapseqno, mapdict, xmin)
             from pg_ts_config_map where mapcfg >= {FIRST_USER_OID}
           union all
           select concat_ws(' ', 'td', oid, dictnamespace, dictname, xmin)
             from pg_ts_dict where oid >= {FIRST_USER_OID} and dictnamespace in ({USER_NAMESPACES})
           union all
           select concat_ws(' ', 'g', setrole, entry)
             from pg_db_role_setting cross join unnest(setconfig) entry
             where setdatabase = ({THIS_DATABASE}) and not {own}
           union all
           select concat_ws(' ', 'd', d.datconnlimit, d.datacl, c.description)
             from pg_database d
             left join pg_shdescription c
               on c.objoid = d.oid and c.classoid = 'pg_database'::regclass
             where d.oid = ({THIS_DATABASE}) and starts_with(d.datname, '{POOL_PREFIX}')
               and (d.datacl is not null or d.datconnlimit <> -1
                    or c.description is distinct from '{POOL_COMMENT}')
         ) parts",
        own = own_setting("entry"),
        POOL_PREFIX = crate::owner::POOL_PREFIX,
        POOL_COMMENT = super::marks::POOL_COMMENT,
    )
}

/// Each object the fingerprint covers, named (`<schema> <name> <kind>`, a column with
/// its table and type, a constraint with its table and definition, a trigger with its
/// table, a function with its argument types, an enum with its values), beside the
/// statement that drops it; and each user schema and extension (`schema <name>`,
/// `extension <name>`), event trigger, large object, publication, foreign-data wrapper,
/// server, collation, extended statistics, text search configuration and dictionary,
/// and database setting (by a hash of its value, which may be a secret). Rules,
/// policies and default privileges have no statement (null): a test that adds one gets
/// a new clone, as does one that makes a table of the template's inherit another's (not
/// listed here: the undo leaves it, and the fingerprint checked after the undo tells
/// it; an inheriting table or partition the test made goes with its table, as does a
/// table's place in a publication; one of the template's tables added to a publication
/// of the template's is not listed either, and gets a new clone). Ordered for dropping:
/// schemas, extensions, event triggers and publications (what they hold goes with them,
/// and an event trigger could stop the undo's own statements), then tables and views
/// (their columns, indexes, constraints and triggers go with them), foreign-data
/// wrappers and servers (after extensions: one an extension made goes with it), then
/// columns, constraints and triggers added to the template's tables (an index behind a
/// constraint goes only with it), then indexes, sequences, functions, types, operators,
/// casts, large objects, collations, extended statistics and text search objects left.
fn objects_sql() -> String {
    format!(
        "select part, ddl from (
           select 0 as phase, 'schema ' || nspname as part,
                  format('drop schema if exists %I cascade', nspname) as ddl
             from pg_namespace where oid in ({USER_NAMESPACES})
           union all
           select 0, 'extension ' || extname, format('drop extension if exists %I cascade', extname)
             from pg_extension where oid >= {FIRST_USER_OID}
           union all
           select case when relkind in ('i', 'I', 'S', 'c') then 3 else 1 end,
                  format('%s %s %s', relnamespace::regnamespace, relname, relkind),
                  format('drop %s if exists %s.%I cascade',
                         case relkind when 'v' then 'view' when 'm' then 'materialized view'
                                      when 'S' then 'sequence' when 'i' then 'index'
                                      when 'I' then 'index' when 'f' then 'foreign table'
                                      when 'c' then 'type' else 'table' end,
                         relnamespace::regnamespace, relname)
             from pg_class where relnamespace in ({USER_NAMESPACES})
           union all
           select 2, format('%s %s %s %s', attrelid::regclass, attname,
                            format_type(atttypid, atttypmod), attnotnull),
                  format('alter table if exists %s drop column if exists %I cascade',
                         attrelid::regclass, attname)
             from pg_attribute a join pg_class c on c.oid = a.attrelid
             where c.relnamespace in ({USER_NAMESPACES}) and attnum > 0 and not attisdropped
               and c.relkind in ('r', 'p')
           union all
           select 2, format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)),
                  case when conrelid <> 0 then
                    format('alter table if exists %s drop constraint if exists %I cascade',
                           conrelid::regclass, conname)
                  else
                    format('alter domain %s drop constraint if exists %I cascade',
                           contypid::regtype, conname) end
             from pg_constraint where connamespace in ({USER_NAMESPACES})
           union all
           select 2, format('%s %s trigger', tgrelid::regclass, tgname),
                  format('drop trigger if exists %I on %s cascade', tgname, tgrelid::regclass)
             from pg_trigger where not tgisinternal
           union all
           select 3, format('%s function', oid::regprocedure),
                  format('drop %s if exists %s cascade',
                         case prokind when 'p' then 'procedure' when 'a' then 'aggregate'
                                      else 'function' end,
                         oid::regprocedure)
             from pg_proc where oid >= {FIRST_USER_OID} and pronamespace in ({USER_NAMESPACES})
           union all
           select 3, format('%s type %s %s', t.oid::regtype, t.typtype,
                            (select string_agg(enumlabel::text, ',' order by enumsortorder)
                               from pg_enum where enumtypid = t.oid)),
                  format('drop %s if exists %s cascade',
                         case t.typtype when 'd' then 'domain' else 'type' end, t.oid::regtype)
             from pg_type t
             where t.oid >= {FIRST_USER_OID} and t.typnamespace in ({USER_NAMESPACES})
               and t.typtype in ('e', 'd', 'r')
           union all
           select 2, format('%s %s rule', ev_class::regclass, rulename), null
             from pg_rewrite where ev_class >= {FIRST_USER_OID} and rulename <> '_RETURN'
           union all
           select 2, format('%s %s policy', polrelid::regclass, polname), null from pg_policy
           union all
           select 0, format('event trigger %s', evtname),
                  format('drop event trigger if exists %I cascade', evtname)
             from pg_event_trigger
           union all
           select 3, format('%s operator', oid::regoperator),
                  format('drop operator if exists %s cascade', oid::regoperator)
             from pg_operator where oid >= {FIRST_USER_OID} and oprnamespace in ({USER_NAMESPACES})
           union all
           select 3, format('cast %s as %s', format_type(castsource, null),
                            format_type(casttarget, null)),
                  format('drop cast if exists (%s as %s) cascade', format_type(castsource, null),
                         format_type(casttarget, null))
             from pg_cast where oid >= {FIRST_USER_OID}
           union all
           select 3, format('large object %s', oid), format('select lo_unlink(%s)', oid)
             from pg_largeobject_metadata
           union all
           select 3, format('%s %s collation', collnamespace::regnamespace, collname),
                  format('drop collation if exists %s.%I cascade',
                         collnamespace::regnamespace, collname)
             from pg_collation
             where oid >= {FIRST_USER_OID} and collnamespace in ({USER_NAMESPACES})
           union all
           select 3, format('%s %s statistics', stxnamespace::regnamespace, stxname),
                  format('drop statistics if exists %s.%I', stxnamespace::regnamespace, stxname)
             from pg_statistic_ext where stxnamespace in ({USER_NAMESPACES})
           union all
           select 3, format('%s %s text search configuration', cfgnamespace::regnamespace,
                            cfgname),
                  format('drop text search configuration if exists %s.%I cascade',
                         cfgnamespace::regnamespace, cfgname)
             from pg_ts_config where oid >= {FIRST_USER_OID} and cfgnamespace in ({USER_NAMESPACES})
           union all
           select 3, format('%s %s text search dictionary', dictnamespace::regnamespace,
                            dictname),
                  format('drop text search dictionary if exists %s.%I cascade',
                         dictnamespace::regnamespace, dictname)
             from pg_ts_dict where oid >= {FIRST_USER_OID} and dictnamespace in ({USER_NAMESPACES})
           union all
           select 0, format('publication %s', pubname),
                  format('drop publication if exists %I', pubname)
             from pg_publication
           union all
           select 1, format('foreign data wrapper %s', fdwname),
                  format('drop foreign data wrapper if exists %I cascade', fdwname)
             from pg_foreign_data_wrapper
           union all
           select 1, format('server %s', srvname),
                  format('drop server if exists %I cascade', srvname)
             from pg_foreign_server
           union all
           select 2, format('default privileges %s %s %s', defaclrole::regrole,
                            defaclnamespace, defaclobjtype), null
             from pg_default_acl
           union all
           select 3, format('{SETTING}%s %s %s', setrole, split_part(entry, '=', 1), md5(entry)),
                  case when setrole = 0 then
                    format('alter database %I reset %I', current_database(),
                           split_part(entry, '=', 1))
                  else
                    format('alter role %s in database %I reset %I', setrole::regrole,
                           current_database(), split_part(entry, '=', 1)) end
             from pg_db_role_setting cross join unnest(setconfig) entry
             where setdatabase = ({THIS_DATABASE}) and not {own}
         ) objects order by phase",
        own = own_setting("entry"),
        SETTING = SETTING_PREFIX,
    )
}

/// How a database setting's entry in [`objects`] starts.
const SETTING_PREFIX: &str = "setting ";

/// Whether `objects` (a database's, as [`objects`] lists them) hold a database setting
/// other than testbed's own: whether a clone of that database has settings to copy.
pub(crate) fn lists_a_setting(objects: &[String]) -> bool {
    objects
        .iter()
        .any(|object| object.starts_with(SETTING_PREFIX))
}

/// [`objects_sql`]'s rows, read with `pg_catalog` alone on the search path, so that a
/// name is schema-qualified whatever `search_path` the session has: a template's build
/// and a clone's session may differ (a clone gets the settings its template's
/// migrations made: see `marks::mark`). Four round trips (the query, in a transaction
/// that sets the path); read only when a template is built and when a test changed the
/// schema.
async fn object_rows(
    conn: &mut PgConnection,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let mut transaction = conn.begin().await?;
    sqlx::query("select set_config('search_path', 'pg_catalog', true)")
        .execute(&mut *transaction)
        .await?;
    let rows = sqlx::query_as(AssertSqlSafe(objects_sql()))
        .fetch_all(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(rows)
}

/// What a pristine database holds (see [`undo_additions`]), recorded with its template.
pub(crate) async fn objects(conn: &mut PgConnection) -> Result<Vec<String>, ServerCallError> {
    let rows = object_rows(conn).await.map_err(|e| {
        ServerCallError::statement(Backend::Postgres, "list the schema's objects", e)
    })?;
    let mut parts: Vec<String> = rows.into_iter().map(|(part, _)| part).collect();
    parts.sort();
    Ok(parts)
}

/// The statements that bring a database whose test added to its schema (a table, a
/// column, an index, a constraint, a schema) back to `template_objects`, by dropping
/// the additions; `None` when the test also changed or removed something of the
/// template's, which only a new clone undoes. The caller checks the fingerprint again
/// after running them.
pub(crate) async fn undo_additions(
    conn: &mut PgConnection,
    template_objects: &[String],
) -> Result<Option<String>, sqlx::Error> {
    let rows = object_rows(conn).await?;
    let template: std::collections::HashSet<&str> =
        template_objects.iter().map(String::as_str).collect();
    let present: std::collections::HashSet<&str> =
        rows.iter().map(|(part, _)| part.as_str()).collect();
    if template.iter().any(|part| !present.contains(part)) {
        return Ok(None);
    }
    let mut script = String::new();
    for (part, ddl) in &rows {
        if template.contains(part.as_str()) {
            continue;
        }
        match ddl {
            Some(ddl) => {
                script.push_str(ddl);
                script.push_str(";\n");
            }
            None => return Ok(None),
        }
    }
    Ok(Some(script))
}

/// A hash of the schema: what [`fingerprint_sql`] reads.
pub(crate) async fn fingerprint(conn: &mut PgConnection) -> Result<String, ServerCallError> {
    sqlx::query_scalar(AssertSqlSafe(fingerprint_sql()))
        .fetch_one(conn)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "fingerprint the schema", e))
}
