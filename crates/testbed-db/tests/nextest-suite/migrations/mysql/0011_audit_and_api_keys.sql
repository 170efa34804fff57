create table audit_log (
    id bigint not null auto_increment primary key,
    user_id bigint,
    action varchar(191) not null,
    entity varchar(191) not null,
    entity_id bigint not null,
    at datetime not null,
    foreign key (user_id) references users (id)
) engine = InnoDB;

create index audit_log_entity_entity_id_idx on audit_log (entity, entity_id);

create index audit_log_at_idx on audit_log (at);

create table api_keys (
    id bigint not null auto_increment primary key,
    user_id bigint not null,
    key_hash varchar(191) not null unique,
    created_at datetime not null,
    foreign key (user_id) references users (id)
) engine = InnoDB;
