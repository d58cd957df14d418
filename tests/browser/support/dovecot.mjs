// A throw-away Dovecot IMAP server on a free 127.0.0.1 port, set up like tests/support/dovecot.rs:
// plain-text logins (no TLS), a passwd-file with {PLAIN} passwords, Maildir under a temp directory
// owned by the `dovecot` user. Needs Debian's dovecot-imapd and root (scripts/test.sh installs it).
//
//   const imap = await startDovecot([['kundtjanst@exempelkommun.se', 'hemligt']]);
//   await imap.append('kundtjanst@exempelkommun.se', rawMail);   // into INBOX
//   await imap.stop();

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './app.mjs';

export const DOVECOT = '/usr/sbin/dovecot';

function dovecotIds() {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('dovecot:'));
  if (!line) throw new Error('no dovecot user: install dovecot-imapd (scripts/test.sh does)');
  const f = line.split(':');
  return [Number(f[2]), Number(f[3])];
}

function canConnect(port) {
  return new Promise((ok) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); ok(true); });
    s.on('error', () => ok(false));
  });
}

/** Start Dovecot with these [user, password] accounts. */
export async function startDovecot(users) {
  if (!existsSync(DOVECOT)) throw new Error(`${DOVECOT} is missing: install dovecot-imapd (scripts/test.sh does)`);
  const d = mkdtempSync(join(tmpdir(), 'arendo-dovecot-'));
  chmodSync(d, 0o755);
  for (const sub of ['run', 'state', 'mail']) mkdirSync(join(d, sub));
  const [uid, gid] = dovecotIds();
  chownSync(join(d, 'mail'), uid, gid);
  writeFileSync(join(d, 'users'), users.map(([u, p]) => `${u}:{PLAIN}${p}::::::\n`).join(''));
  const passwords = new Map(users);
  const port = await freePort();
  const conf = join(d, 'dovecot.conf');
  writeFileSync(conf, `base_dir = ${d}/run
state_dir = ${d}/state
instance_name = arendo-browser-${port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = ${d}/dovecot.log
mail_location = maildir:${d}/mail/%d/%n
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${d}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u ${d}/users
  default_fields = uid=dovecot gid=dovecot home=${d}/mail/%d/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`);
  const log = () => { try { return readFileSync(join(d, 'dovecot.log'), 'utf8'); } catch { return ''; } };
  // The master daemonises and keeps inherited pipes open: give it none, read its log instead.
  const r = spawnSync(DOVECOT, ['-c', conf], { stdio: 'ignore' });
  if (r.status !== 0) {
    rmSync(d, { recursive: true, force: true });
    throw new Error(`dovecot did not start (${r.error ?? `exit ${r.status}`}): ${log()}`);
  }
  const deadline = Date.now() + 10000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline) throw new Error(`dovecot did not listen on ${port}: ${log()}`);
    await sleep(20);
  }

  const masterPid = () => {
    try { return Number(readFileSync(join(d, 'run/master.pid'), 'utf8').trim()) || null; } catch { return null; }
  };
  const pid = masterPid();
  // Should the test process end without stop() (a crash, Ctrl+C), take the server along.
  const reap = () => { if (pid) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } };
  process.once('exit', reap);

  return {
    port,
    log,

    /** APPEND one raw RFC 5322 mail to the user's INBOX (a minimal IMAP client over node:net). */
    append(user, raw) {
      const password = passwords.get(user);
      if (password === undefined) throw new Error(`no Dovecot user ${user}`);
      return imapAppend(port, user, password, 'INBOX', raw);
    },

    /** Stop the server, wait until it is gone and remove its directory. */
    async stop() {
      process.off('exit', reap);
      if (pid) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
        const until = Date.now() + 15000;
        while (existsSync(`/proc/${pid}`) && Date.now() < until) await sleep(50);
      }
      rmSync(d, { recursive: true, force: true });
    },
  };
}

/** IMAP quoted string (RFC 3501). */
const quote = (s) => `"${String(s).replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** LOGIN, APPEND <folder> {n} literal, LOGOUT. Line endings of `raw` are made CRLF. */
export async function imapAppend(port, user, password, folder, raw) {
  const mail = Buffer.from(String(raw).replace(/\r?\n/g, '\r\n'), 'utf8');
  const sock = connect({ host: '127.0.0.1', port });
  sock.setTimeout(10000);
  let buf = '';
  let waiter = null;
  let failure = null;
  const check = () => {
    if (!waiter) return;
    if (failure) { const w = waiter; waiter = null; w.fail(failure); return; }
    const lines = buf.split('\r\n');
    for (let i = 0; i < lines.length - 1; i++) {
      if (waiter.re.test(lines[i])) {
        buf = lines.slice(i + 1).join('\r\n');
        const w = waiter; waiter = null; w.ok(lines[i]);
        return;
      }
      if (waiter.tag && lines[i].startsWith(`${waiter.tag} `)) {
        const w = waiter; waiter = null; w.fail(new Error(`IMAP: ${lines[i]}`));
        return;
      }
    }
  };
  sock.on('data', (d) => { buf += d.toString('latin1'); check(); });
  sock.on('error', (e) => { failure = e; check(); });
  sock.on('timeout', () => { failure = new Error('IMAP: timed out'); sock.destroy(); check(); });
  sock.on('close', () => { failure ??= new Error(`IMAP: connection closed (${JSON.stringify(buf.slice(-200))})`); check(); });
  // Wait for a line matching `re`; a tagged line for `tag` that does not match fails.
  const expect = (re, tag = null) => new Promise((ok, fail) => { waiter = { re, tag, ok, fail }; check(); });
  const send = (s) => sock.write(s);
  try {
    await expect(/^\* OK/);
    send(`a1 LOGIN ${quote(user)} ${quote(password)}\r\n`);
    await expect(/^a1 OK/, 'a1');
    send(`a2 APPEND ${quote(folder)} {${mail.length}}\r\n`);
    await expect(/^\+/, 'a2');
    send(Buffer.concat([mail, Buffer.from('\r\n')]));
    await expect(/^a2 OK/, 'a2');
    send('a3 LOGOUT\r\n');
    await expect(/^a3 OK/, 'a3');
  } finally {
    sock.destroy();
  }
}

/** Encode a header value as an RFC 2047 encoded word when it is not plain ASCII. */
export const encodeWord = (s) => (/^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`);

/** A plain-text mail from a citizen, as raw RFC 5322 text. */
export function citizenMail({ fromName, from, to, subject, text, messageId }) {
  const id = messageId ?? `<${Date.now()}.${Math.random().toString(36).slice(2)}@example.org>`;
  return [
    `From: ${encodeWord(fromName)} <${from}>`,
    `To: ${to}`,
    `Subject: ${encodeWord(subject)}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${id}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    '',
  ].join('\r\n');
}
