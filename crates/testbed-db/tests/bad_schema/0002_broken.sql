create table fine (id integer);

create tabel broken (id integer);
