create table nothing (id integer);
