create table products (
    id integer primary key autoincrement,
    sku text not null unique,
    name text not null,
    price_cents integer not null
);

create table inventory (
    id integer primary key autoincrement,
    product_id integer not null unique,
    quantity integer not null,
    foreign key (product_id) references products (id)
);
