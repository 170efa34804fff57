create table sessions (
    id bigint not null auto_increment primary key,
    user_id bigint not null,
    token varchar(191) not null unique,
    expires_at datetime not null,
    foreign key (user_id) references users (id)
) engine = InnoDB;

create index sessions_user_id_idx on sessions (user_id);

create table notifications (
    id bigint not null auto_increment primary key,
    user_id bigint not null,
    kind varchar(191) not null,
    body text not null,
    is_read boolean not null default false,
    foreign key (user_id) references users (id)
) engine = InnoDB;

create index notifications_user_id_is_read_idx on notifications (user_id, is_read);

create table settings (
    id bigint not null auto_increment primary key,
    user_id bigint not null unique,
    theme varchar(191) not null,
    locale varchar(191) not null,
    foreign key (user_id) references users (id)
) engine = InnoDB;
