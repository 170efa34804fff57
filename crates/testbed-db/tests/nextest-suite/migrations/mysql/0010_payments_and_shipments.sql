create table payments (
    id bigint not null auto_increment primary key,
    order_id bigint not null,
    amount_cents bigint not null,
    method varchar(191) not null,
    paid_at datetime not null,
    foreign key (order_id) references orders (id)
) engine = InnoDB;

create index payments_order_id_idx on payments (order_id);

create table shipments (
    id bigint not null auto_increment primary key,
    order_id bigint not null,
    carrier varchar(191) not null,
    tracking varchar(191) not null unique,
    shipped_at datetime,
    foreign key (order_id) references orders (id)
) engine = InnoDB;

create index shipments_order_id_idx on shipments (order_id);
