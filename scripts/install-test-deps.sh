#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, and only what is missing:
#   - sipp (Debian package sip-tester), baresip and tshark, for the SIP end-to-end tests;
#     sipvicious and sipsak for the hostile-network tests and the SIP flood drill;
#   - chromium and chromium-driver, for the web console end-to-end tests;
#   - slapd and ldap-utils, for the directory sign-in tests (each test runs its own slapd on a
#     free loopback port with a temporary configuration; the package's own server is not used);
#   - a PostgreSQL answering on 127.0.0.1:5432 (trust auth for 127.0.0.1 when we install it);
#   - Node.js with npm, and the npm packages of tests/interop (JsSIP and ws, pinned by its
#     package-lock.json) for the SIP-over-WebSocket interop test (tests/e2e_ws.rs), and SIP.js
#     (bundled for the browser with esbuild) for the browser-phone interop test
#     (tests/e2e_webphone_call.rs);
#   - cargo-nextest when it can be installed, else scripts/test.sh falls back to `cargo test`.
# Idempotent: a second run changes nothing. Installing needs root (apt); without root it only
# reports what is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
say() { printf '[install-test-deps] %s\n' "$*"; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

apt_updated=0
apt_install() {
    if ! is_root; then
        say "missing: $* (not root: install it with apt-get install $*)"
        return 1
    fi
    if [[ $apt_updated -eq 0 ]]; then
        say "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- SIPp and tshark ---------------------------------------------------------------------------
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v tshark >/dev/null || missing+=(tshark)
command -v baresip >/dev/null || missing+=(baresip)
# Headless Chromium and its WebDriver for the web console tests (tests/e2e_web.rs).
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# The sqlite3 shell holds the CRM's write lock from another process (tests/e2e_ivr.rs: a
# voicemail left while the database is locked).
command -v sqlite3 >/dev/null || missing+=(sqlite3)
# HTTPS (tests/e2e_https.rs): openssl makes the test certificate, curl is the TLS client.
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
# OpenLDAP's server and clients for the directory sign-in tests (crates/console/tests/api).
command -v slapd >/dev/null || [[ -x /usr/sbin/slapd ]] || missing+=(slapd)
command -v ldapadd >/dev/null || missing+=(ldap-utils)
# Hostile SIP tools for tests/e2e_hostile.rs (svmap, svwar, svcrack; 0.3.3 in Debian 12) and
# sipsak for the flood drill (scripts/drill-sip-flood.sh).
command -v svwar >/dev/null || missing+=(sipvicious)
command -v sipsak >/dev/null || missing+=(sipsak)
# A real mail system for the e-mail tests (crates/mail/tests): each test runs its own dovecot
# (IMAP + LMTP, passwd-file users, mail in a temp dir) and postfix (SMTP relay delivering to
# that dovecot by LMTP) on free loopback ports with configurations of its own; the packages'
# own servers are not used (stopped after install when the package started them).
[[ -x /usr/sbin/dovecot ]] || missing+=(dovecot-imapd dovecot-lmtpd)
[[ -x /usr/sbin/postfix ]] || missing+=(postfix)
if [[ ${#missing[@]} -gt 0 ]]; then
    # tshark asks whether non-root users may capture; answer no, without a prompt. slapd
    # asks for a domain and an admin password for a server of its own: the tests need none.
    if is_root && command -v debconf-set-selections >/dev/null; then
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
        # postfix: no system mail configuration; the tests bring their own.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    fi
    apt_install "${missing[@]}" || true
fi
if command -v sipp >/dev/null; then
    say "sipp: $(sipp -v 2>/dev/null | grep -o 'SIPp v[^ ]*' | head -1)"
else
    say "WARNING: sipp is not installed: the SIP end-to-end tests will fail"
fi

if command -v slapd >/dev/null || [[ -x /usr/sbin/slapd ]]; then
    say "slapd: $( (slapd -VV 2>&1 || /usr/sbin/slapd -VV 2>&1) | grep -o 'slapd [0-9.]*' | head -1)"
else
    say "WARNING: slapd is not installed: the directory sign-in tests will fail"
fi

if [[ -x /usr/sbin/dovecot && -x /usr/sbin/postfix ]]; then
    say "mail: $(/usr/sbin/dovecot --version 2>/dev/null | head -1 | cut -d' ' -f1) dovecot, postfix $(/usr/sbin/postconf -d -h mail_version 2>/dev/null)"
else
    say "WARNING: dovecot or postfix is not installed: the e-mail tests will fail"
fi

# --- PostgreSQL on 127.0.0.1:5432 --------------------------------------------------------------
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 -t 3; }

# Start every "main" cluster (no systemd needed), and reload it so pg_hba.conf changes apply
# to a cluster the package's postinst may already have started.
start_pg_clusters() {
    local version
    for version in $(ls /etc/postgresql 2>/dev/null); do
        if [[ -d "/etc/postgresql/$version/main" ]]; then
            say "starting PostgreSQL $version/main"
            pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
            pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
        fi
    done
}

if pg_up; then
    say "PostgreSQL answers on 127.0.0.1:5432"
else
    if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
        if apt_install postgresql; then
            # A fresh install: let local test clients in without a password (loopback only).
            for hba in /etc/postgresql/*/main/pg_hba.conf; do
                if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
                    say "trust auth for 127.0.0.1 in $hba"
                    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
                fi
            done
        fi
    fi
    if is_root; then
        start_pg_clusters
    fi
    for _ in $(seq 1 20); do
        pg_up && break
        sleep 0.5
    done
    if pg_up; then
        say "PostgreSQL answers on 127.0.0.1:5432"
        # Databases the tests expect (TESTING.md): test and root; create only if missing.
        if is_root && command -v psql >/dev/null; then
            for db in test root; do
                if ! su postgres -c "psql -h 127.0.0.1 -tAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" 2>/dev/null | grep -q 1; then
                    su postgres -c "createdb -h 127.0.0.1 $db" 2>/dev/null && say "created database $db" || true
                fi
            done
            if ! su postgres -c "psql -h 127.0.0.1 -tAc \"SELECT 1 FROM pg_roles WHERE rolname='root'\"" 2>/dev/null | grep -q 1; then
                su postgres -c "createuser -h 127.0.0.1 -s root" 2>/dev/null && say "created role root" || true
            fi
        fi
    else
        say "WARNING: PostgreSQL does not answer on 127.0.0.1:5432: PostgreSQL tests will fail"
    fi
fi

# --- JsSIP for the SIP-over-WebSocket interop test (tests/e2e_ws.rs) ---------------------------
# A real WebRTC SIP client: JsSIP from npm, run by Node with the ws package as its WebSocket.
# Versions come from tests/interop/package-lock.json (npm ci: exactly those, nothing else).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm || true
fi
interop="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/interop" && pwd)"
if command -v npm >/dev/null; then
    if [[ ! -f "$interop/node_modules/jssip/package.json" || ! -f "$interop/node_modules/ws/package.json" \
          || ! -f "$interop/node_modules/sip.js/package.json" || ! -f "$interop/node_modules/esbuild/package.json" ]]; then
        say "npm ci in tests/interop (JsSIP, ws, SIP.js, esbuild)"
        npm ci --prefix "$interop" --no-audit --no-fund --loglevel=error >/dev/null || true
    fi
    # SIP.js ships ES modules only: one browser bundle (global SIP) for the second, independent
    # WebRTC SIP client of tests/e2e_webphone_call.rs, injected into a page of the server.
    if [[ -f "$interop/node_modules/sip.js/package.json" && ! -f "$interop/sipjs.bundle.js" ]]; then
        say "bundling SIP.js for the browser (tests/interop/sipjs.bundle.js)"
        (cd "$interop" && ./node_modules/.bin/esbuild node_modules/sip.js/lib/index.js --bundle \
            --format=iife --global-name=SIP --platform=browser --target=es2020 \
            --outfile=sipjs.bundle.js --log-level=warning) || true
    fi
fi
if [[ -f "$interop/node_modules/jssip/package.json" ]]; then
    say "JsSIP: $(node -p 'require(process.argv[1]).version' "$interop/node_modules/jssip/package.json") on node $(node --version)"
else
    say "WARNING: JsSIP is not installed in tests/interop: the WebSocket interop test will fail"
fi

# --- cargo-nextest -----------------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
    say "$(cargo nextest --version 2>/dev/null | head -1)"
else
    say "cargo-nextest not found: scripts/test.sh will use cargo test"
fi
say "done"
