#!/bin/bash
# The shared Latch store for deploy/docker-compose.yml, run once by the postgres image on an empty volume
# (/docker-entrypoint-initdb.d). Creates the role every replica logs in as and a UTF8 database it owns; the
# replicas create their tables themselves at start (migrations under an advisory lock). The role's password
# comes from the environment (LATCH_STORE_PASSWORD), never from this file.
set -euo pipefail

if [ -z "${LATCH_STORE_PASSWORD:-}" ]; then
  echo "10-latch-store.sh: LATCH_STORE_PASSWORD is not set" >&2
  exit 1
fi

# psql variables (:'name') are quoted by psql itself, so the password cannot break out of the literal.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v store_password="$LATCH_STORE_PASSWORD" <<'SQL'
-- Not a superuser: it owns the store's database (and so its public schema) and nothing else.
CREATE ROLE latch_store LOGIN PASSWORD :'store_password';
-- Event hashes are computed over UTF-8 in the store: Latch refuses a database with another encoding.
CREATE DATABASE latch OWNER latch_store ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE latch FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE latch TO latch_store;
SQL
