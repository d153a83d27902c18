-- Operators who sign in against the administration's directory (crates/directory): the DN
-- of their directory entry; NULL for local accounts. A directory-managed account has no
-- local password (password_hash is '', which never verifies, and no SIP HA1s); its name,
-- role and queue permissions are rewritten from the directory's groups at each sign-in.
ALTER TABLE users ADD COLUMN directory_dn TEXT;
