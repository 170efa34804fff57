create table payments (
    id integer primary key autoincrement,
    order_id integer not null,
    amount_cents integer not null,
    method text not null,
    paid_at text not null,
    foreign key (order_id) references orders (id)
);

create index payments_order_id_idx on payments (order_id);

create table shipments (
    id integer primary key autoincrement,
    order_id integer not null,
    carrier text not null,
    tracking text not null unique,
    shipped_at text,
    foreign key (order_id) references orders (id)
);

create index shipments_order_id_idx on shipments (order_id);
