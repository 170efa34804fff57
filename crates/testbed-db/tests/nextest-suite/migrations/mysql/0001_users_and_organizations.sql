create table users (
    id bigint not null auto_increment primary key,
    email varchar(191) not null unique,
    name text not null,
    created_at datetime not null
) engine = InnoDB;

create table organizations (
    id bigint not null auto_increment primary key,
    name varchar(191) not null,
    created_at datetime not null
) engine = InnoDB;
