-- A good statement, then one the server rejects when it runs (not a syntax error).
insert into tags (name) values ('seeded');
insert into no_such_table (id) values (1);
