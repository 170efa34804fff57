create table ok_one (id integer primary key);
