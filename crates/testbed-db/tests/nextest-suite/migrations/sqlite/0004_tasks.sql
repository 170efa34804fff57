create table tasks (
    id integer primary key autoincrement,
    project_id integer not null,
    assignee_id integer,
    title text not null,
    status text not null,
    due_at text,
    foreign key (project_id) references projects (id),
    foreign key (assignee_id) references users (id)
);

create index tasks_project_id_status_idx on tasks (project_id, status);

create index tasks_assignee_id_idx on tasks (assignee_id);
