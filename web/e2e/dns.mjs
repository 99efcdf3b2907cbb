// A tiny authoritative DNS server for the browser tests: UDP (node:dgram) and TCP (node:net) on
// one port of 127.0.0.1. It answers TXT queries for the names in `records` (a Map the test
// changes: name → array of strings) and NXDOMAIN for any other name. The wire format (RFC 1035)
// is written here: a header, the question echoed, TXT answers, an SOA for negative answers.
import dgram from 'node:dgram';
import net from 'node:net';

const TXT = 16;
const SOA = 6;
const IN = 1;
const NOERROR = 0;
const FORMERR = 1;
const NXDOMAIN = 3;
const NOTIMP = 4;

/** The question of a query: its name (lower case, no final dot), type, and where it ends. */
function question(msg) {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null;
  const labels = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return null;
    const len = msg[at];
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return null; // no compression in a question
    labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(at), cls: msg.readUInt16BE(at + 2), end: at + 4 };
}

function encodeName(name) {
  const parts = name.split('.').filter(Boolean).map((label) => {
    const bytes = Buffer.from(label, 'latin1');
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function record(name, type, ttl, rdata) {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(IN, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

/** One TXT record's RDATA: its text as character-strings of at most 255 bytes. */
function txtData(text) {
  const bytes = Buffer.from(text, 'utf8');
  const chunks = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    chunks.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(chunks);
}

/** The SOA of the zone a negative answer is about (its top two labels), TTLs 0. */
function soa(name) {
  const zone = name.split('.').slice(-2).join('.');
  const numbers = Buffer.alloc(20);
  numbers.writeUInt32BE(1, 0); // serial; refresh, retry, expire and minimum 0
  return record(encodeName(zone), SOA, 0, Buffer.concat([encodeName(`ns.${zone}`), encodeName(`hostmaster.${zone}`), numbers]));
}

function answer(query, records, log, over) {
  const q = question(query);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = query[2] & 0x01;
  const opcode = (query[2] >> 3) & 0x0f;
  const reply = (rcode, answers = [], authority = []) => {
    header[2] = 0x80 | (opcode << 3) | 0x04 | rd; // QR, opcode, AA, RD
    header[3] = rcode;
    header.writeUInt16BE(q ? 1 : 0, 4);
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(authority.length, 8);
    header.writeUInt16BE(0, 10);
    return Buffer.concat([header, q ? query.subarray(12, q.end) : Buffer.alloc(0), ...answers, ...authority]);
  };
  if (!q) return reply(FORMERR);
  log.push({ name: q.name, type: q.type, over });
  if (opcode !== 0 || q.cls !== IN) return reply(NOTIMP);
  const texts = records.get(q.name);
  if (!texts) return reply(NXDOMAIN, [], [soa(q.name)]);
  if (q.type !== TXT) return reply(NOERROR, [], [soa(q.name)]);
  const pointer = Buffer.from([0xc0, 0x0c]); // the name in the question
  return reply(
    NOERROR,
    texts.map((t) => record(pointer, TXT, 0, txtData(t))),
  );
}

async function listen(port) {
  const udp = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', resolve);
  });
  const tcp = net.createServer();
  try {
    await new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(udp.address().port, '127.0.0.1', resolve);
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  return { udp, tcp };
}

/**
 * Starts the server on an ephemeral port (the same for UDP and TCP). `records`: lower-case
 * name without the final dot → TXT strings. `queries`: every question asked, in order, as
 * `{ name, type, over: 'udp' | 'tcp' }`.
 */
export async function startDns() {
  let sockets;
  for (let tries = 0; !sockets; tries++) {
    try {
      sockets = await listen(0);
    } catch (e) {
      // The TCP side of the port UDP got is taken: another port.
      if (tries > 20) throw e;
    }
  }
  const { udp, tcp } = sockets;
  const records = new Map();
  const queries = [];
  udp.on('message', (msg, from) => {
    let out = answer(msg, records, queries, 'udp');
    // Over 512 bytes (EDNS is ignored): the question alone with TC set, so the client asks by TCP.
    if (out.length > 512) {
      const q = question(msg);
      out = Buffer.concat([out.subarray(0, 12), msg.subarray(12, q.end)]);
      out[2] |= 0x02;
      out.writeUInt32BE(0, 6); // no answers, no authority
    }
    udp.send(out, from.port, from.address);
  });
  tcp.on('connection', (socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + msg.length);
        const out = answer(msg, records, queries, 'tcp');
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        socket.write(Buffer.concat([len, out]));
      }
    });
    socket.on('error', () => {});
  });
  return {
    port: udp.address().port,
    records,
    queries,
    stop: () => {
      udp.close();
      tcp.close();
    },
  };
}
