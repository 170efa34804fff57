create table comments (
    id bigint not null auto_increment primary key,
    task_id bigint not null,
    author_id bigint not null,
    body text not null,
    created_at datetime not null,
    foreign key (task_id) references tasks (id),
    foreign key (author_id) references users (id)
) engine = InnoDB;

create index comments_task_id_idx on comments (task_id);

create table tags (
    id bigint not null auto_increment primary key,
    name varchar(191) not null unique
) engine = InnoDB;

create table task_tags (
    id bigint not null auto_increment primary key,
    task_id bigint not null,
    tag_id bigint not null,
    foreign key (task_id) references tasks (id),
    foreign key (tag_id) references tags (id)
) engine = InnoDB;

create unique index task_tags_task_id_tag_id_key on task_tags (task_id, tag_id);
