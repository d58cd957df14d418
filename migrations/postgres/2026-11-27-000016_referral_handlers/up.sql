-- Referral handlers (handläggare): department staff with a light account. They sign in to see
-- the referrals sent to their departments and answer them; nothing else of Ärendo is theirs.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'agent', 'handler'));

-- Which referral departments (escalation targets of kind referral) a handler answers for.
CREATE TABLE referral_handlers (
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    target_id  BIGINT NOT NULL REFERENCES escalation_targets(id),
    user_id    BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (target_id, user_id)
);
CREATE INDEX referral_handlers_user ON referral_handlers (tenant_id, user_id);
