create table customers (
    id integer primary key autoincrement,
    user_id integer,
    name text not null,
    email text not null,
    foreign key (user_id) references users (id)
);

create index customers_email_idx on customers (email);

create table addresses (
    id integer primary key autoincrement,
    customer_id integer not null,
    line1 text not null,
    city text not null,
    country text not null,
    foreign key (customer_id) references customers (id)
);

create index addresses_customer_id_idx on addresses (customer_id);
