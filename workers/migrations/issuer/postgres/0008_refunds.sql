-- Refunds credited to wallets: each refund on chain (by the acquirer's refund id) at most once,
-- with the chain's figures and who asked for the credit (the acquirer's notice, or an
-- operator resolving a refund found by reconciliation).
CREATE TABLE refunds (
	refund_id TEXT PRIMARY KEY,
	issuer_order_id TEXT NOT NULL REFERENCES orders(issuer_order_id),
	acquirer_order_id TEXT NOT NULL,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	credit_amount BIGINT NOT NULL,
	debit_amount BIGINT NOT NULL,
	posting_id BIGINT NOT NULL,
	cycle BIGINT NOT NULL,
	source TEXT NOT NULL,
	credited_at BIGINT NOT NULL
);
CREATE INDEX refunds_by_order ON refunds(issuer_order_id);
CREATE INDEX refunds_by_cycle ON refunds(cycle);
