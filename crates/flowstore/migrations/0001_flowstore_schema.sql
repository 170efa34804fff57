-- The flowstore schema, written once for SQLite, PostgreSQL and MySQL: portable types
-- only, ids given by the application (no auto-increment), structured fields as JSON text.

CREATE TABLE flowdetails (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    state VARCHAR(32) NOT NULL,
    meta TEXT NOT NULL
);

CREATE TABLE atomdetails (
    uuid VARCHAR(64) NOT NULL PRIMARY KEY,
    flow_uuid VARCHAR(64) NOT NULL,
    seq BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    version VARCHAR(64) NOT NULL,
    state VARCHAR(32) NOT NULL,
    intention VARCHAR(32) NOT NULL,
    meta TEXT NOT NULL,
    results TEXT,
    failure TEXT,
    revert_results TEXT,
    revert_failure TEXT,
    FOREIGN KEY (flow_uuid) REFERENCES flowdetails (uuid),
    -- An atom's name is unique in its flow, even across processes sharing the database.
    UNIQUE (flow_uuid, name)
);

CREATE INDEX atomdetails_by_flow ON atomdetails (flow_uuid, seq);
