-- Written requests (issue 16): customers are matched by e-mail address, case-insensitively.
CREATE INDEX IF NOT EXISTS customers_email_lower ON customers (LOWER(email));
