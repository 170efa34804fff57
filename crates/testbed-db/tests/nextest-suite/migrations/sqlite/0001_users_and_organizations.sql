create table users (
    id integer primary key autoincrement,
    email text not null unique,
    name text not null,
    created_at text not null
);

create table organizations (
    id integer primary key autoincrement,
    name text not null,
    created_at text not null
);
