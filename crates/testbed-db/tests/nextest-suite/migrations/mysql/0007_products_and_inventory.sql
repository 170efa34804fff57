create table products (
    id bigint not null auto_increment primary key,
    sku varchar(191) not null unique,
    name varchar(191) not null,
    price_cents bigint not null
) engine = InnoDB;

create table inventory (
    id bigint not null auto_increment primary key,
    product_id bigint not null unique,
    quantity integer not null,
    foreign key (product_id) references products (id)
) engine = InnoDB;
