create table projects (
    id integer primary key autoincrement,
    organization_id integer not null,
    name text not null,
    archived boolean not null default false,
    foreign key (organization_id) references organizations (id)
);

create index projects_organization_id_name_idx on projects (organization_id, name);
