-- Seeds nothing: its own seed list gives the schema-change test a pool of its own.
select 1;
