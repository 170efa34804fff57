create table attachments (
    id integer primary key autoincrement,
    task_id integer not null,
    file_name text not null,
    size_bytes integer not null,
    foreign key (task_id) references tasks (id)
);

create index attachments_task_id_idx on attachments (task_id);
