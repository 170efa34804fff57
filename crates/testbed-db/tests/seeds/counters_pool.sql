-- Seeds nothing: its own seed list gives the auto-increment test a template (and a pool) of its own.
select 1;
