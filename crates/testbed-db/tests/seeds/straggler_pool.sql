-- Seeds nothing: its own seed list gives the MySQL straggler test a template (and a pool) of its own.
select 1;
