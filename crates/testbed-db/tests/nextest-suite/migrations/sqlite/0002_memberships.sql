create table memberships (
    id integer primary key autoincrement,
    user_id integer not null,
    organization_id integer not null,
    role text not null,
    foreign key (user_id) references users (id),
    foreign key (organization_id) references organizations (id)
);

create unique index memberships_user_id_organization_id_key on memberships (user_id, organization_id);
