-- Run once as the postgres superuser (psql -f postgresql-setup.sql); then `mailer init` creates the
-- tables with the same Alembic migrations that build SQLite databases.
CREATE ROLE mailer LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE mailer OWNER mailer ENCODING 'UTF8' TEMPLATE template0;
