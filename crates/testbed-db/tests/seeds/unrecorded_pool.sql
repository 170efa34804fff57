-- Seeds nothing: its own seed list gives the registry-records test a template of its own.
select 1;
