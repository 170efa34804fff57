create table tasks (
    id bigint not null auto_increment primary key,
    project_id bigint not null,
    assignee_id bigint,
    title varchar(191) not null,
    status varchar(191) not null,
    due_at datetime,
    foreign key (project_id) references projects (id),
    foreign key (assignee_id) references users (id)
) engine = InnoDB;

create index tasks_project_id_status_idx on tasks (project_id, status);

create index tasks_assignee_id_idx on tasks (assignee_id);
