-- Order and merchant numbers come from sequences: the counter row kept every new order
-- waiting until the transaction that took the number before it committed. Each sequence
-- goes on from where its counter stood.
CREATE SEQUENCE order_numbers;
SELECT setval('order_numbers', COALESCE((SELECT value FROM counters WHERE name = 'order'), 0) + 1, false);
CREATE SEQUENCE merchant_numbers;
SELECT setval('merchant_numbers', COALESCE((SELECT value FROM counters WHERE name = 'merchant'), 0) + 1, false);
DROP TABLE counters;
