create table comments (
    id integer primary key autoincrement,
    task_id integer not null,
    author_id integer not null,
    body text not null,
    created_at text not null,
    foreign key (task_id) references tasks (id),
    foreign key (author_id) references users (id)
);

create index comments_task_id_idx on comments (task_id);

create table tags (
    id integer primary key autoincrement,
    name text not null unique
);

create table task_tags (
    id integer primary key autoincrement,
    task_id integer not null,
    tag_id integer not null,
    foreign key (task_id) references tasks (id),
    foreign key (tag_id) references tags (id)
);

create unique index task_tags_task_id_tag_id_key on task_tags (task_id, tag_id);
