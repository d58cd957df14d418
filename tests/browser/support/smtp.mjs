// A local SMTP peer that accepts every mail (no TLS, authentication optional) and keeps it in
// memory, so a test can see what Ärendo sent: point Ärendo at it with
//   ARENDO_MAIL__TRANSPORT=smtp ARENDO_MAIL__SMTP_HOST=127.0.0.1 ARENDO_MAIL__SMTP_PORT=<port>
//   ARENDO_MAIL__SMTP_TLS=none
//
//   const smtp = await startSmtp();
//   const mail = await smtp.waitFor((m) => m.to.includes('a@example.org') && m.text.includes('Hej'), 20000);
//   mail.subject, mail.text (decoded text/plain), mail.raw, mail.from, mail.to (envelope)
//   await smtp.stop();

import { SMTPServer } from 'smtp-server';
import { freePort, sleep } from './app.mjs';

export async function startSmtp() {
  const messages = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    banner: 'Ärendo browser-test SMTP peer',
    size: 50 * 1024 * 1024,
    onAuth(auth, session, cb) { cb(null, { user: auth.username }); },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try {
          messages.push(parseMail(raw, session.envelope));
        } catch (e) {
          messages.push({ raw, from: session.envelope.mailFrom?.address, to: [], subject: '', text: '', error: String(e) });
        }
        cb();
      });
    },
  });
  const port = await freePort();
  await new Promise((ok, fail) => { server.once('error', fail); server.listen(port, '127.0.0.1', ok); });
  server.on('error', () => { /* a client that went away; not the test's business */ });

  return {
    port,
    messages,

    /** ARENDO_* settings that make Ärendo deliver here. */
    env: {
      ARENDO_MAIL__TRANSPORT: 'smtp',
      ARENDO_MAIL__SMTP_HOST: '127.0.0.1',
      ARENDO_MAIL__SMTP_PORT: String(port),
      ARENDO_MAIL__SMTP_TLS: 'none',
    },

    /** The first received mail for which `predicate` is true, waiting up to `ms` for it. */
    async waitFor(predicate, ms = 20000) {
      const until = Date.now() + ms;
      for (;;) {
        const m = messages.find(predicate);
        if (m) return m;
        if (Date.now() > until) {
          const seen = messages.map((x) => `  to ${x.to.join(', ')}: ${x.subject}`).join('\n') || '  (none)';
          throw new Error(`no matching mail reached the SMTP peer within ${ms} ms; received:\n${seen}`);
        }
        await sleep(100);
      }
    },

    stop() { return new Promise((ok) => server.close(() => ok())); },
  };
}

// ---- a small MIME reader: headers, RFC 2047 words, the text/plain part ----

function splitHead(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  if (at < 0) return [raw, ''];
  const sep = raw.slice(at).match(/^\r?\n\r?\n/)[0];
  return [raw.slice(0, at), raw.slice(at + sep.length)];
}

function headers(head) {
  const out = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) {
      const k = line.slice(0, i).trim().toLowerCase();
      out[k] ??= line.slice(i + 1).trim();
    }
  }
  return out;
}

function decodeQp(s, header = false) {
  if (header) s = s.replace(/_/g, ' ');
  const bytes = [];
  s = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(s[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** "=?utf-8?b?…?= =?utf-8?q?…?=" → text. */
export function decodeWords(v) {
  return v
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, _cs, enc, data) => (enc.toLowerCase() === 'b'
      ? Buffer.from(data, 'base64').toString('utf8')
      : decodeQp(data, true)));
}

function param(value, name) {
  const m = (value ?? '').match(new RegExp(`;\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i'));
  return m ? (m[1] ?? m[2]) : null;
}

function decodeBody(body, cte) {
  switch ((cte ?? '').toLowerCase()) {
    case 'base64': return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable': return decodeQp(body);
    default: return body;
  }
}

/** The first text/plain part of an entity, decoded. */
function textPlain(head, body) {
  const type = (head['content-type'] ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = param(head['content-type'], 'boundary');
    if (!boundary) return '';
    const parts = body.split(`--${boundary}`).slice(1);
    for (const part of parts) {
      if (part.startsWith('--')) break;
      const [h, b] = splitHead(part.replace(/^\r?\n/, ''));
      const t = textPlain(headers(h), b.replace(/\r?\n$/, ''));
      if (t) return t;
    }
    return '';
  }
  if (!type.startsWith('text/plain')) return '';
  return decodeBody(body, head['content-transfer-encoding']);
}

export function parseMail(raw, envelope = {}) {
  const [h, b] = splitHead(raw);
  const head = headers(h);
  return {
    raw,
    headers: head,
    from: envelope.mailFrom?.address ?? null,
    to: (envelope.rcptTo ?? []).map((r) => r.address.toLowerCase()),
    subject: decodeWords(head.subject ?? ''),
    text: textPlain(head, b).replace(/\r\n/g, '\n'),
  };
}
