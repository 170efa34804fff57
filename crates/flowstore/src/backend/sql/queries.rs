//! The backend's SQL, once per placeholder style: `$1` for PostgreSQL and SQLite, `?`
//! for MySQL, whose upsert is also spelled differently.

/// One statement in both spellings.
pub(super) struct Query {
    numbered: &'static str,
    question: &'static str,
}

impl Query {
    pub(super) fn text(&self, numbered: bool) -> &'static str {
        if numbered {
            self.numbered
        } else {
            self.question
        }
    }
}

pub(super) const UPSERT_FLOW: Query = Query {
    numbered: "INSERT INTO flowdetails (uuid, name, state, meta) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, state = excluded.state, \
               meta = excluded.meta",
    question: "INSERT INTO flowdetails (uuid, name, state, meta) VALUES (?, ?, ?, ?) \
               ON DUPLICATE KEY UPDATE name = VALUES(name), state = VALUES(state), meta = VALUES(meta)",
};

pub(super) const UPSERT_ATOM: Query = Query {
    numbered: "INSERT INTO atomdetails (uuid, flow_uuid, seq, name, kind, version, state, intention, \
               meta, results, failure, revert_results, revert_failure) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
               ON CONFLICT (uuid) DO UPDATE SET seq = excluded.seq, name = excluded.name, \
               kind = excluded.kind, version = excluded.version, state = excluded.state, \
               intention = excluded.intention, meta = excluded.meta, results = excluded.results, \
               failure = excluded.failure, revert_results = excluded.revert_results, \
               revert_failure = excluded.revert_failure",
    question: "INSERT INTO atomdetails (uuid, flow_uuid, seq, name, kind, version, state, intention, \
               meta, results, failure, revert_results, revert_failure) \
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
               ON DUPLICATE KEY UPDATE seq = VALUES(seq), name = VALUES(name), kind = VALUES(kind), \
               version = VALUES(version), state = VALUES(state), intention = VALUES(intention), \
               meta = VALUES(meta), results = VALUES(results), failure = VALUES(failure), \
               revert_results = VALUES(revert_results), revert_failure = VALUES(revert_failure)",
};

pub(super) const SELECT_FLOW: Query = Query {
    numbered: "SELECT name, state, meta FROM flowdetails WHERE uuid = $1",
    question: "SELECT name, state, meta FROM flowdetails WHERE uuid = ?",
};

pub(super) const SELECT_ATOMS: Query = Query {
    numbered: "SELECT uuid, name, kind, version, state, intention, meta, results, failure, \
               revert_results, revert_failure FROM atomdetails WHERE flow_uuid = $1 ORDER BY seq",
    question: "SELECT uuid, name, kind, version, state, intention, meta, results, failure, \
               revert_results, revert_failure FROM atomdetails WHERE flow_uuid = ? ORDER BY seq",
};

/// Children first, for the foreign key.
pub(super) const CLEAR_ALL: [&str; 2] = ["DELETE FROM atomdetails", "DELETE FROM flowdetails"];
