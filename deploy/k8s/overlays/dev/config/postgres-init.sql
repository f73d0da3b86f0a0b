-- Run once by the postgres image on an empty data volume: one database per service
-- (the same as deploy/docker/postgres-init.sql).
CREATE DATABASE brokering_ordering;
CREATE DATABASE brokering_inventory;
CREATE DATABASE brokering_compliance;
