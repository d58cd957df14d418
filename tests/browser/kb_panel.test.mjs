// The knowledge-base panel on a ticket (issue 17, points 23 and 25), in a real browser on the demo
// installation (starter articles imported at first start), at 1280 px and 375 px with axe:
//
//   a. an internal routine in the panel is labelled "Intern", opens, and has no "Infoga i svar"
//   b. "Infoga i svar" on a public article inserts its summary and public link, not the whole
//      text; "Infoga hela texten" inserts the whole text

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';

const ALVA = 'admin@exempelkommun.se';

let app, browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

async function ticketNumber(page) {
  await page.goto(app.url('/tickets'));
  return page.locator('tr.ticket-row', { hasText: 'Vattenläcka på Storgatan' }).first().getAttribute('data-number');
}

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`a. internal routines are labelled and cannot be inserted (${size})`, async () => {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await login(page, app, ALVA);
      const number = await ticketNumber(page);
      await page.goto(app.url(`/tickets/${number}?kbq=hot+och+trakasserier#kb`));
      const item = page.locator('section.kb-panel ol.kb-hits li', {
        has: page.locator('a.kb-title[href="/knowledge/rutin-hot-och-trakasserier"]'),
      });
      assert.equal(await item.count(), 1, 'the routine is found');
      assert.match(await item.locator('.kb-internal').innerText(), /^Intern$/);
      assert.equal(await item.locator('a.kb-insert, a.kb-insert-full').count(), 0, 'no insert button');
      await shot(page, `kb-panel-internal-${size}`);
      await axe(page, `the panel with an internal routine at ${viewport.width} px`);
      if (viewport === PHONE) {
        const over = await overflow(page);
        assert.ok(over <= 0, `the ticket page is ${over}px wider than the phone screen`);
      }
      await item.locator('a.kb-title').click();
      await page.waitForURL(/\/knowledge\/rutin-hot-och-trakasserier$/);
      assert.match(await page.locator('h1').innerText(), /hot/i);
    } finally {
      await ctx.close();
    }
  });

  test(`b. "Infoga i svar" inserts the summary and the public link (${size})`, async () => {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await login(page, app, ALVA);
      const number = await ticketNumber(page);
      await page.goto(app.url(`/tickets/${number}?kbq=vattenl%C3%A4cka#kb`));
      const item = page.locator('section.kb-panel ol.kb-hits li', {
        has: page.locator('a.kb-title[href="/knowledge/vattenlacka"]'),
      });
      assert.equal(await item.locator('.kb-internal').count(), 0, 'a public article is not labelled internal');
      const reply = page.locator('#reply-body');
      await reply.fill('');
      await item.getByRole('link', { name: /Infoga i svar/ }).click();
      await page.waitForFunction(() => document.getElementById('reply-body').value.includes('/kb/exempel/vattenlacka'));
      const short = await reply.inputValue();
      const lines = short.trim().split('\n\n');
      assert.equal(lines.length, 2, `summary and link only: ${short}`);
      assert.match(lines[1], /^https?:\/\/[^ ]+\/kb\/exempel\/vattenlacka$/);
      await axe(page, `the panel after inserting at ${viewport.width} px`);

      await reply.fill('');
      await item.getByRole('link', { name: /Infoga hela texten/ }).click();
      await page.waitForFunction(() => document.getElementById('reply-body').value.length > 0);
      const full = await reply.inputValue();
      assert.ok(full.length > short.length * 2, 'the whole text on request');
      assert.ok(!full.includes('(/kb/'), 'links in the text are absolute');
    } finally {
      await ctx.close();
    }
  });
}
