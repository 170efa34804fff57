-- Its own seed list gives the auto-increment test a template (and a pool) of its own. The
-- tag inserted and deleted leaves `tags`' counter past its largest id, as a fresh copy has it.
insert into tags (name) values ('gone');
delete from tags where name = 'gone';
