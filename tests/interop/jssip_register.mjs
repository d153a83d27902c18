// JsSIP (the npm package, unchanged) registers an agent's phone over SIP over WebSocket, as a
// browser would, in Node with the `ws` package as the browser's WebSocket.
//
//   node jssip_register.mjs ws://127.0.0.1:8080/ws 1001 demo1001
//
// Prints `REGISTERED` once the registrar accepted it, `INVITE <request-uri>` for each INVITE
// it receives (JsSIP answers 488 itself: Node has no WebRTC), then waits for its standard
// input to close, unregisters, prints `UNREGISTERED` and exits 0. Any failure prints `FAILED <cause>`
// and exits 1; nothing within 10 s of a step exits 2. Run by tests/e2e_ws.rs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// JsSIP opens `new WebSocket(url, 'sip')` as in a browser, and looks for
// `window.RTCPeerConnection` when an INVITE comes.
globalThis.WebSocket = require('ws');
globalThis.window ??= globalThis;
const JsSIP = require('jssip');

const [url, user, password] = process.argv.slice(2);
if (!url || !user || !password) {
  console.log('FAILED usage: jssip_register.mjs <ws-url> <user> <password>');
  process.exit(1);
}
const host = new URL(url).hostname;

let deadline;
const step = () => {
  clearTimeout(deadline);
  deadline = setTimeout(() => {
    console.log('FAILED timeout');
    process.exit(2);
  }, 10_000);
};

const ua = new JsSIP.UA({
  sockets: [new JsSIP.WebSocketInterface(url)],
  uri: `sip:${user}@${host}`,
  password,
  register: true,
  register_expires: 600,
  // One attempt: a refused WebSocket is a failure here, not something to retry.
  connection_recovery_min_interval: 2,
  connection_recovery_max_interval: 2,
});

// What reaches the UA core, before JsSIP answers it.
const receive = ua.receiveRequest.bind(ua);
ua.receiveRequest = (request) => {
  if (request.method === 'INVITE') {
    console.log(`INVITE ${request.ruri}`);
  }
  return receive(request);
};

ua.on('registered', () => {
  console.log('REGISTERED');
  step();
  clearTimeout(deadline);
  process.stdin.resume();
  process.stdin.on('end', () => {
    step();
    ua.unregister();
  });
});
ua.on('unregistered', () => {
  console.log('UNREGISTERED');
  ua.stop();
  setTimeout(() => process.exit(0), 100);
});
ua.on('registrationFailed', (e) => {
  console.log(`FAILED registration ${e.cause} ${e.response ? e.response.status_code : ''}`);
  process.exit(1);
});
ua.on('disconnected', (e) => {
  if (e.error) {
    console.log(`FAILED disconnected ${e.code ?? ''} ${e.reason ?? ''}`);
    process.exit(1);
  }
});

step();
ua.start();
