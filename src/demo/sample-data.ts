/** The demo's schema: fake people with fake PII, so masking and policy have something to bite on. */
export const DEMO_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  ssn text NOT NULL,
  card_number text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS orders (
  id serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  amount_cents int NOT NULL,
  status text NOT NULL DEFAULT 'paid',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS payments (
  id serial PRIMARY KEY,
  order_id int NOT NULL REFERENCES orders(id),
  iban text NOT NULL,
  api_key text NOT NULL
);
INSERT INTO customers (name, email, ssn, card_number)
SELECT v.name, v.email, v.ssn, v.card FROM (VALUES
  ('Ada Lovelace', 'ada@example.com', '123-45-6789', '4242 4242 4242 4242'),
  ('Alan Turing', 'alan@example.org', '234-56-7890', '5555 5555 5555 4444'),
  ('Grace Hopper', 'grace@example.net', '345-67-8901', '3782 822463 10005'),
  ('Edsger Dijkstra', 'edsger@example.com', '456-78-9012', '6011 1111 1111 1117'),
  ('Barbara Liskov', 'barbara@example.org', '567-89-0123', '4000 0566 5566 5556')
) AS v(name, email, ssn, card)
WHERE NOT EXISTS (SELECT 1 FROM customers);
INSERT INTO orders (customer_id, amount_cents, status)
SELECT 1 + (g % 5), 1000 + g * 37, CASE WHEN g % 7 = 0 THEN 'refunded' ELSE 'paid' END
FROM generate_series(1, 40) AS g
WHERE NOT EXISTS (SELECT 1 FROM orders);
INSERT INTO payments (order_id, iban, api_key)
SELECT id, 'GB82WEST12345698765432', 'sk_live_' || md5(id::text) FROM orders
WHERE NOT EXISTS (SELECT 1 FROM payments);
`;

export const DEMO_POLICY = `// Demo policy: agents may read, nothing else; nobody reads payments through the gateway.
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"demo");

@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set", Action::"sql:prepare", Action::"sql:execute"], resource in Connection::"demo");

@id("no-payments")
forbid(principal, action, resource == Table::"demo/public.payments");
`;
