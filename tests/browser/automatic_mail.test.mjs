// Automatic mail in a real browser (Debian chromium + playwright-core + axe-core) on the demo
// installation (issue 17, point 10): an out-of-office notice that reaches kundtjanst@ is left out
// of Mitt arbete, which says so and offers to show it; shown, and in the queue list, its row
// carries the "Automatiskt" badge; on its ticket page the badge and the automatic message are
// marked. Every state passes axe at 1280 px and 375 px without sideways scrolling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';

const KIM = 'agent@exempelkommun.se';
const SUBJECT = 'Frånvarobesked: Föräldraledig';

let app, browser, number;

before(async () => {
  app = await startApp();
  const dir = mkdtempSync(join(tmpdir(), 'arendo-auto-'));
  try {
    writeFileSync(join(dir, 'ooo.eml'), [
      'From: Kalle Berg <kalle.berg@example.org>',
      'To: kundtjanst@exempelkommun.se',
      `Subject: =?utf-8?q?Fr=C3=A5nvarobesked=3A_F=C3=B6r=C3=A4ldraledig?=`,
      'Message-ID: <browser-ooo-1@example.org>',
      'Auto-Submitted: auto-replied',
      'Date: Tue, 01 Dec 2026 08:00:00 +0100',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Jag är föräldraledig till och med 31 januari.',
      '',
    ].join('\r\n'));
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

async function check(page, what, viewport) {
  await axe(page, `${what} at ${viewport.width} px`);
  if (viewport === PHONE) {
    const over = await overflow(page);
    assert.ok(over <= 0, `${what} is ${over}px wider than the phone screen`);
  }
}

test('automatic mail stays out of Mitt arbete and is marked where it shows', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await login(page, app, KIM);
      if (!number) {
        const list = await (await page.request.get(app.url('/api/v1/tickets?limit=200'))).json();
        number = list.tickets.find((t) => t.subject === SUBJECT)?.number;
        assert.ok(number, 'the out-of-office notice is a ticket');
      }
      const row = () => page.locator(`tr.ticket-row[data-number="${number}"]`);

      // Mitt arbete: left out, and it says so.
      assert.equal(await row().count(), 0, 'the automatic ticket is not in Mitt arbete');
      const show = page.getByRole('link', { name: 'Visa dem också' });
      assert.ok(await show.isVisible(), 'Mitt arbete offers to show automatic tickets');
      assert.match(await page.locator('.automatic-note').first().textContent(), /1 ärende från automatisk e-post/);
      await check(page, 'Mitt arbete with automatic tickets left out', viewport);

      await show.click();
      await page.waitForURL(app.url('/?automatiska=1'));
      await row().first().waitFor();
      const badge = row().first().locator('.badge-automatic');
      assert.equal(await badge.textContent(), 'Automatiskt');
      assert.match(await badge.getAttribute('title'), /automatiskt svar/i);
      await shot(page, `automatic-my-work-${size}`);
      await check(page, 'Mitt arbete showing automatic tickets', viewport);

      // The queue list marks it too.
      await page.goto(app.url('/tickets'));
      await row().first().waitFor();
      assert.equal(await row().first().locator('.badge-automatic').count(), 1);
      await check(page, 'the ticket list with an automatic ticket', viewport);

      // The ticket page: the badge in the head and the message marked as automatic.
      await page.goto(app.url(`/tickets/${number}`));
      assert.ok(await page.locator('#ticket-head .badge-automatic').isVisible());
      const msg = page.locator('article.msg-automatic');
      assert.equal(await msg.count(), 1);
      assert.match(await msg.locator('.msg-kind').textContent(), /Automatisk e-post/);
      await check(page, 'the ticket page of an automatic ticket', viewport);
    } finally {
      await ctx.close();
    }
  }
});
