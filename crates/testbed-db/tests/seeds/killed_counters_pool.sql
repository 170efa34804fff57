-- Seeds nothing: its own seed list gives the killed-run auto-increment test a template (and a pool) of its own.
select 1;
