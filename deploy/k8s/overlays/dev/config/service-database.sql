-- One service's own PostgreSQL role and database, run as the superuser once per service by postgres-init.sh
-- (psql -v role=… -v database=… -v password=…). The role owns its database and nothing else: it runs its own EF Core
-- migrations there (DDL, its own schemas), takes the migration's advisory lock through the maintenance database
-- "postgres" (CONNECT, granted to PUBLIC by default), and cannot connect to another service's database.
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
