create table orders (
    id integer primary key autoincrement,
    customer_id integer not null,
    address_id integer not null,
    status text not null,
    total_cents integer not null,
    placed_at text not null,
    foreign key (customer_id) references customers (id),
    foreign key (address_id) references addresses (id)
);

create index orders_customer_id_placed_at_idx on orders (customer_id, placed_at);

create index orders_status_idx on orders (status);

create table order_items (
    id integer primary key autoincrement,
    order_id integer not null,
    product_id integer not null,
    quantity integer not null,
    price_cents integer not null,
    foreign key (order_id) references orders (id),
    foreign key (product_id) references products (id)
);

create index order_items_order_id_idx on order_items (order_id);
