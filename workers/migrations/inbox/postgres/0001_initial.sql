-- An aggregator's notify inbox keeps only the nonces of the notifications it verified.
CREATE TABLE request_nonces (
	party TEXT NOT NULL,
	nonce TEXT NOT NULL,
	seen_at BIGINT NOT NULL,
	PRIMARY KEY (party, nonce)
);
CREATE INDEX request_nonces_by_age ON request_nonces(seen_at);
