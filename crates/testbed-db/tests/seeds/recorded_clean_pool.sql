-- Seeds nothing: its own seed list gives the recorded-clean test a pool of its own.
select 1;
