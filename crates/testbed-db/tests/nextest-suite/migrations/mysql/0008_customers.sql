create table customers (
    id bigint not null auto_increment primary key,
    user_id bigint,
    name varchar(191) not null,
    email varchar(191) not null,
    foreign key (user_id) references users (id)
) engine = InnoDB;

create index customers_email_idx on customers (email);

create table addresses (
    id bigint not null auto_increment primary key,
    customer_id bigint not null,
    line1 varchar(191) not null,
    city varchar(191) not null,
    country varchar(191) not null,
    foreign key (customer_id) references customers (id)
) engine = InnoDB;

create index addresses_customer_id_idx on addresses (customer_id);
