create table projects (
    id bigint not null auto_increment primary key,
    organization_id bigint not null,
    name varchar(191) not null,
    archived boolean not null default false,
    foreign key (organization_id) references organizations (id)
) engine = InnoDB;

create index projects_organization_id_name_idx on projects (organization_id, name);
