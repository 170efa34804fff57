-- Seed rows every test database of the generated nextest suite starts with (portable across
-- SQLite, PostgreSQL and MySQL; the same rows as `tests/seeds/base.sql`, its own template).
insert into users (email, name, created_at) values
    ('ada@example.com', 'Ada', '2024-01-01 09:00:00'),
    ('brian@example.com', 'Brian', '2024-01-02 09:00:00');
insert into organizations (name, created_at) values ('Analytical Engines', '2024-01-01 09:00:00');
insert into memberships (user_id, organization_id, role)
    select u.id, o.id, 'owner' from users u, organizations o where u.email = 'ada@example.com';
insert into projects (organization_id, name, archived)
    select id, 'Difference Engine', false from organizations;
insert into tags (name) values ('bug'), ('feature');
insert into products (sku, name, price_cents) values ('GEAR-1', 'Brass gear', 1250), ('CARD-1', 'Punched card', 5);
