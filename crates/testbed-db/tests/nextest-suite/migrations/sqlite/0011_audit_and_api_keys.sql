create table audit_log (
    id integer primary key autoincrement,
    user_id integer,
    action text not null,
    entity text not null,
    entity_id integer not null,
    at text not null,
    foreign key (user_id) references users (id)
);

create index audit_log_entity_entity_id_idx on audit_log (entity, entity_id);

create index audit_log_at_idx on audit_log (at);

create table api_keys (
    id integer primary key autoincrement,
    user_id integer not null,
    key_hash text not null unique,
    created_at text not null,
    foreign key (user_id) references users (id)
);
