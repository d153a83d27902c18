-- SIP digest credentials for operators' phones (RFC 3261 §22.4, RFC 7616 §3.4.2): the HA1
-- values H(login ":" realm ":" password) under MD5 and SHA-256, lower-case hex, written
-- whenever a password is set, with the realm they were computed for. The registrar reads
-- these, never the password (see `Store::sip_credentials`). NULL: no password set since.
ALTER TABLE users ADD COLUMN sip_realm TEXT;
ALTER TABLE users ADD COLUMN sip_ha1_md5 TEXT;
ALTER TABLE users ADD COLUMN sip_ha1_sha256 TEXT;
