create table memberships (
    id bigint not null auto_increment primary key,
    user_id bigint not null,
    organization_id bigint not null,
    role varchar(191) not null,
    foreign key (user_id) references users (id),
    foreign key (organization_id) references organizations (id)
) engine = InnoDB;

create unique index memberships_user_id_organization_id_key on memberships (user_id, organization_id);
