#!/bin/bash
# Sample target for deploy/docker-compose.yml and docker-compose.single.yml, run once by the postgres image on
# an empty volume (/docker-entrypoint-initdb.d). Fake data only. The gateway's upstream role gets its password
# from the environment (LATCH_UPSTREAM_PASSWORD), never from this file.
set -euo pipefail

if [ -z "${LATCH_UPSTREAM_PASSWORD:-}" ]; then
  echo "10-sample-schema.sh: LATCH_UPSTREAM_PASSWORD is not set" >&2
  exit 1
fi

# psql variables (:'name') are quoted by psql itself, so the password cannot break out of the literal.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v upstream_password="$LATCH_UPSTREAM_PASSWORD" <<'SQL'
-- The role Latch logs in as: it can read and change rows in the sample tables and nothing else. Cedar policy
-- narrows it further per statement; this is the defence in depth if a policy is too broad.
CREATE ROLE latch_shop LOGIN PASSWORD :'upstream_password';
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO latch_shop;

CREATE TABLE customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  ssn text NOT NULL,
  card_number text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  total_cents integer NOT NULL CHECK (total_cents >= 0),
  status text NOT NULL DEFAULT 'open'
);

CREATE TABLE payments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES orders (id),
  iban text NOT NULL,
  amount_cents integer NOT NULL
);

-- Fake people. The card numbers are the networks' published test cards and the SSNs are well-known sample
-- numbers (078-05-1120 is the famous wallet-insert one): they pass the masking validators, belong to nobody.
INSERT INTO customers (name, email, ssn, card_number) VALUES
  ('Ada Lovelace', 'ada@example.com', '219-09-9999', '4111 1111 1111 1111'),
  ('Alan Turing', 'alan@example.com', '078-05-1120', '5555 5555 5555 4444'),
  ('Grace Hopper', 'grace@example.com', '536-22-8726', '4012 8888 8888 1881');

INSERT INTO orders (customer_id, total_cents, status) VALUES (1, 1999, 'paid'), (2, 4500, 'open'), (3, 120, 'paid');
INSERT INTO payments (order_id, iban, amount_cents) VALUES (1, 'DE89370400440532013000', 1999);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders, payments TO latch_shop;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO latch_shop;
SQL
