-- People and queues are data (DESIGN.md "Where things live"), administered through the API,
-- the admin pages and the command line, effective without a restart:
--   * a queue's call distribution settings live with the CRM queue (one thing, created once);
--   * agents' queue memberships, with a weight each;
--   * agents' phones (registering, or a static contact), each with its own SIP digest secret,
--     kept as HA1 values for the realm they were made for: the web password no longer
--     makes SIP credentials, and users without a phone have none;
--   * a revision every change bumps, which running processes watch.
ALTER TABLE queues ADD COLUMN takes_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;
ALTER TABLE queues ADD COLUMN announce_every_s BIGINT;
ALTER TABLE queues ADD COLUMN max_wait_s BIGINT;
ALTER TABLE queues ADD COLUMN overflow TEXT;
ALTER TABLE queues ADD COLUMN expected_wait_s BIGINT NOT NULL DEFAULT 60;
ALTER TABLE queues ADD COLUMN service_level_s BIGINT NOT NULL DEFAULT 30;
ALTER TABLE queues ADD COLUMN transfers_at_head INTEGER NOT NULL DEFAULT 0;

CREATE TABLE queue_members (
    user_id BIGINT NOT NULL REFERENCES users(id),
    queue_id BIGINT NOT NULL REFERENCES queues(id),
    weight INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (user_id, queue_id)
);
CREATE INDEX queue_members_queue ON queue_members (queue_id);

CREATE TABLE phones (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    -- NULL: the phone registers; otherwise its fixed SIP URI.
    static_contact TEXT,
    sip_realm TEXT,
    sip_ha1_md5 TEXT,
    sip_ha1_sha256 TEXT,
    secret_changed BIGINT
);

-- Agents whose password made digest credentials keep them, now as their phone's secret.
INSERT INTO phones (user_id, sip_realm, sip_ha1_md5, sip_ha1_sha256, secret_changed)
    SELECT id, sip_realm, sip_ha1_md5, sip_ha1_sha256, created FROM users
    WHERE sip_ha1_md5 IS NOT NULL AND role IN ('agent_first_level', 'agent_second_level');
UPDATE users SET sip_realm = NULL, sip_ha1_md5 = NULL, sip_ha1_sha256 = NULL;

CREATE TABLE site_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO site_revision (id, revision) VALUES (1, 0);
