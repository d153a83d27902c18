#!/usr/bin/env bash
# Rebuilds crates/console/assets/vendor/jssip-3.13.8.min.js, the browser bundle of JsSIP the
# agent desktop's phone imports (see crates/console/assets/vendor/README.md).
#
# Every package is pinned (JsSIP and its dependencies at the versions tests/interop's
# package-lock.json resolves, esbuild for the bundling), so two runs give the same bytes.
# Works in a temporary directory; needs node and npm, and network access to the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/crates/console/assets/vendor/jssip-3.13.8.min.js"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm init -y >/dev/null
npm install --no-audit --no-fund \
    jssip@3.13.8 debug@4.4.3 events@3.3.0 ms@2.1.3 sdp-transform@2.15.0 esbuild@0.24.2 >/dev/null

# One ES module whose default export is the JsSIP namespace (UA, WebSocketInterface, ...).
# `events` (a Node built-in) resolves to the npm package of the same name for the browser.
npx --no-install esbuild node_modules/jssip/lib/JsSIP.js \
    --bundle --format=esm --platform=browser --target=es2020 --minify \
    --legal-comments=none --outfile=bundle.js --log-level=warning

{
    cat <<'HEADER'
/*!
 * JsSIP 3.13.8 (https://jssip.net, https://github.com/versatica/JsSIP), bundled for the
 * browser with esbuild 0.24.2 by scripts/build-jssip-bundle.sh; the bundle also holds
 * debug 4.4.3, ms 2.1.3, events 3.3.0 and sdp-transform 2.15.0. All are MIT licensed.
 *
 * JsSIP: Copyright (c) 2012-2015 José Luis Millán - Versatica <https://github.com/versatica/>
 * debug: Copyright (c) 2014-2017 TJ Holowaychuk, (c) 2018-2021 Josh Junon
 * ms: Copyright (c) 2020 Vercel, Inc.
 * events: Copyright Joyent, Inc. and other Node contributors.
 * sdp-transform: Copyright (c) 2013 Eirik Albrigtsen
 *
 * The MIT License
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this
 * software and associated documentation files (the "Software"), to deal in the Software
 * without restriction, including without limitation the rights to use, copy, modify, merge,
 * publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
 * to whom the Software is furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all copies or
 * substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 * INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 * PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
 * FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 * OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 * DEALINGS IN THE SOFTWARE.
 */
HEADER
    cat bundle.js
} >"$out"
echo "wrote $out ($(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -d' ' -f1))"
