create table sessions (
    id integer primary key autoincrement,
    user_id integer not null,
    token text not null unique,
    expires_at text not null,
    foreign key (user_id) references users (id)
);

create index sessions_user_id_idx on sessions (user_id);

create table notifications (
    id integer primary key autoincrement,
    user_id integer not null,
    kind text not null,
    body text not null,
    is_read boolean not null default false,
    foreign key (user_id) references users (id)
);

create index notifications_user_id_is_read_idx on notifications (user_id, is_read);

create table settings (
    id integer primary key autoincrement,
    user_id integer not null unique,
    theme text not null,
    locale text not null,
    foreign key (user_id) references users (id)
);
