// oracle.mjs: the official stripe npm package as an independent oracle for Portald's tests.
// It never reaches Stripe: requests go to a capture server on loopback or to the stand-in.
//
//   node oracle.mjs encode   < [{params}, ...]           -> [body the SDK sends, ...]
//   node oracle.mjs sign     < [{payload, secret, timestamp}, ...]   -> [Stripe-Signature, ...]
//   node oracle.mjs verify   < [{payload, header, secret, tolerance, now}, ...]
//                                                       -> [{ok, error}, ...]  (constructEvent)
//   node oracle.mjs standin URL KEY                     -> what the SDK got from the stand-in
import http from 'node:http';
import Stripe from 'stripe';

const API_VERSION = '2024-06-20';

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
}

// Each case goes through stripe.customers.create against a server that records the body.
async function encode(cases) {
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('latin1'));
      res.writeHead(200, {'Content-Type': 'application/json', 'Request-Id': 'req_oracle'});
      res.end('{"id":"cus_oracle","object":"customer"}');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const stripe = new Stripe('sk_test_oracle', {
    host: '127.0.0.1', port: server.address().port, protocol: 'http',
    apiVersion: API_VERSION, maxNetworkRetries: 0,
  });
  const out = [];
  for (let i = 0; i < cases.length; i++) {
    const before = bodies.length;
    await stripe.customers.create(cases[i], {idempotencyKey: 'oracle-' + i});
    out.push(bodies.length === before + 1 ? bodies[before] : null);
  }
  server.close();
  return out;
}

function sign(cases) {
  const stripe = new Stripe('sk_test_oracle');
  return cases.map((c) => stripe.webhooks.generateTestHeaderString({
    payload: c.payload, secret: c.secret, timestamp: c.timestamp,
  }));
}

function verify(cases) {
  const stripe = new Stripe('sk_test_oracle');
  return cases.map((c) => {
    try {
      const ev = stripe.webhooks.constructEvent(Buffer.from(c.payload, 'utf8'), c.header,
          c.secret, c.tolerance, undefined,
          c.now == null ? undefined : c.now * 1000);
      return {ok: true, id: ev.id, type: ev.type};
    } catch (e) {
      return {ok: false, error: String(e.message).split('\n')[0]};
    }
  });
}

// The SDK's own traffic against the stand-in: whatever it sends must draw no complaint.
async function standin(url, key) {
  const u = new URL(url);
  const stripe = new Stripe(key, {
    host: u.hostname, port: Number(u.port), protocol: u.protocol.replace(':', ''),
    apiVersion: API_VERSION, maxNetworkRetries: 0,
  });
  const out = {};
  const cus = await stripe.customers.create(
      {email: 'sdk@example.com', name: 'Ümlaut & Co', metadata: {site: 's1', note: 'a b!*()'}},
      {idempotencyKey: 'sdk-cus'});
  out.customer = cus.id;
  const pi = await stripe.paymentIntents.create({
    amount: 1234, currency: 'eur', customer: cus.id, payment_method: 'pm_card_visa',
    payment_method_types: ['card'], confirm: true, off_session: true,
    metadata: {invoice: 'inv_1'},
  }, {idempotencyKey: 'sdk-pi'});
  out.payment_intent = {id: pi.id, status: pi.status};
  const list = await stripe.paymentIntents.list({customer: cus.id, limit: 3,
    expand: ['data.latest_charge']});
  out.listed = list.data.map((p) => [p.id, p.latest_charge.status]);
  try {
    await stripe.paymentIntents.create({
      amount: 1234, currency: 'eur', customer: cus.id,
      payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
      payment_method_types: ['card'], confirm: true, off_session: true,
    }, {idempotencyKey: 'sdk-pi-declined'});
    out.declined = null;
  } catch (e) {
    out.declined = {type: e.type, code: e.code, decline_code: e.decline_code,
      status: e.statusCode, pi_status: e.payment_intent && e.payment_intent.status};
  }
  return out;
}

const cmd = process.argv[2];
let result;
if (cmd === 'encode') result = await encode(await readStdin());
else if (cmd === 'sign') result = sign(await readStdin());
else if (cmd === 'verify') result = verify(await readStdin());
else if (cmd === 'standin') result = await standin(process.argv[3], process.argv[4]);
else {
  console.error('usage: node oracle.mjs encode|sign|verify|standin URL KEY');
  process.exit(2);
}
process.stdout.write(JSON.stringify(result) + '\n');
