#!/usr/bin/env bash
# Run once by the postgres image's entrypoint on an empty data volume (mounted into /docker-entrypoint-initdb.d, with
# service-database.sql at /etc/brokering): a role and a database per service, with the passwords in the container's
# environment (compose: from the secrets deploy/docker/provision.sh made; the Kubernetes dev overlay: its
# postgres-credentials Secret). The services never connect as the superuser.
# deploy/docker/ and deploy/k8s/overlays/dev/config/ hold identical copies of this file and of service-database.sql
# (kustomize loads no file from outside an overlay); deploy/k8s/validate.sh checks they stay identical.
set -euo pipefail

for service in ordering inventory compliance; do
  password_variable="${service^^}_DB_PASSWORD"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v database="brokering_$service" -v password="${!password_variable:?$password_variable is not set}" \
    -f /etc/brokering/service-database.sql
done
