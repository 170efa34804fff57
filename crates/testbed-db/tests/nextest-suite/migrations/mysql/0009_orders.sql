create table orders (
    id bigint not null auto_increment primary key,
    customer_id bigint not null,
    address_id bigint not null,
    status varchar(191) not null,
    total_cents bigint not null,
    placed_at datetime not null,
    foreign key (customer_id) references customers (id),
    foreign key (address_id) references addresses (id)
) engine = InnoDB;

create index orders_customer_id_placed_at_idx on orders (customer_id, placed_at);

create index orders_status_idx on orders (status);

create table order_items (
    id bigint not null auto_increment primary key,
    order_id bigint not null,
    product_id bigint not null,
    quantity integer not null,
    price_cents bigint not null,
    foreign key (order_id) references orders (id),
    foreign key (product_id) references products (id)
) engine = InnoDB;

create index order_items_order_id_idx on order_items (order_id);
