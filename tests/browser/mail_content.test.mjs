// A mail with an attachment over the size limit, in a real browser (Debian chromium +
// playwright-core + axe-core) on the demo installation (issue 17, point 3): the message on the
// ticket page says which attachment is too large to show and that it is in the original, the link
// to the original message (.eml) is there and downloads it under its subject, and the page passes
// axe at 1280 px and 375 px without sideways scrolling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';

const KIM = 'agent@exempelkommun.se';
const SUBJECT = 'Bygglov Sjövägen 4';
const NOTICE = 'Bilagan ritning.pdf, 3 MB, är för stor för att visas här – den finns i originalmeddelandet.';

let app, browser, number;

/** A citizen's mail with a 3 MB drawing (base64, 76 characters a line). */
function mailWithDrawing() {
  const pdf = Buffer.alloc(3 * 1024 * 1024, 0x25);
  const b64 = pdf.toString('base64').match(/.{1,76}/g).join('\r\n');
  return [
    'From: Eva Nord <eva.nord@example.org>',
    'To: kundtjanst@exempelkommun.se',
    `Subject: =?utf-8?q?Bygglov_Sj=C3=B6v=C3=A4gen_4?=`,
    'Message-ID: <browser-ritning-1@example.org>',
    'Date: Tue, 01 Dec 2026 08:00:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="rr"',
    '',
    '--rr',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Här är ritningen till bygglovsansökan.',
    '--rr',
    'Content-Type: application/pdf; name="ritning.pdf"',
    'Content-Disposition: attachment; filename="ritning.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    '--rr--',
    '',
  ].join('\r\n');
}

before(async () => {
  // A 2 MB limit for attachments: the 3 MB drawing is over it.
  app = await startApp({ env: { ARENDO_MAIL__MAX_ATTACHMENT_MB: '2' } });
  const dir = mkdtempSync(join(tmpdir(), 'arendo-mail-'));
  try {
    writeFileSync(join(dir, 'ritning.eml'), mailWithDrawing());
    await app.cli(['mail', 'import-dir', '--tenant', 'exempel', '--queue', 'kundtjanst', dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test('the oversize attachment and the original message are on the ticket page', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await login(page, app, KIM);
      if (!number) {
        const list = await (await page.request.get(app.url('/api/v1/tickets?limit=200'))).json();
        number = list.tickets.find((t) => t.subject === SUBJECT)?.number;
        assert.ok(number, `the imported mail is a ticket: ${JSON.stringify(list.tickets.map((t) => t.subject))}`);
      }
      await page.goto(app.url(`/tickets/${number}`));
      const notice = page.getByText(NOTICE);
      await notice.first().waitFor();
      assert.ok(await notice.first().isVisible(), 'the oversize notice is visible');
      const original = page.getByRole('link', { name: 'Originalmeddelande (.eml)' });
      await original.scrollIntoViewIfNeeded();
      assert.ok(await original.isVisible(), 'the link to the original is visible');
      await shot(page, `mail-content-oversize-${size}`);
      await axe(page, `the ticket page with an oversize attachment at ${viewport.width} px`);
      if (viewport === PHONE) {
        const over = await overflow(page);
        assert.ok(over <= 0, `the ticket page is ${over}px wider than the phone screen`);
      }

      const [download] = await Promise.all([page.waitForEvent('download'), original.click()]);
      assert.equal(download.suggestedFilename(), `${SUBJECT}.eml`);
    } finally {
      await ctx.close();
    }
  }
});
