create table attachments (
    id bigint not null auto_increment primary key,
    task_id bigint not null,
    file_name varchar(191) not null,
    size_bytes bigint not null,
    foreign key (task_id) references tasks (id)
) engine = InnoDB;

create index attachments_task_id_idx on attachments (task_id);
