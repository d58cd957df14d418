// The agent's ticket page in a real browser (issue 17, points 13, 15 and 18), on the demo
// installation: a citizen's reply from the status page and a colleague's change arrive live on
// the open ticket, an unsent reply draft survives "Ladda om" and goes once sent, the properties
// stay in view while the conversation scrolls at 1280×800, the "Färdigt svar" list names each
// response, and the page passes axe at 1280 px and 375 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, liveConnected, login, newContext, overflow, shot, startApp } from './support/app.mjs';

let app, browser;
const year = new Date().getFullYear();
const number = `KC-${year}-000001`;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Wait until `fn` (run in the page) is true, at most `ms`. */
async function until(page, fn, arg, ms = 15000) {
  await page.waitForFunction(fn, arg, { timeout: ms, polling: 200 });
}

test('a citizen\'s reply and a colleague\'s change arrive live; the draft survives a reload', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  const cctx = await newContext(browser, PHONE);
  const citizen = await cctx.newPage();
  const actx = await newContext(browser, DESKTOP);
  const admin = await actx.newPage();
  try {
    await login(page, app, 'agent@exempelkommun.se');
    const live = liveConnected(page);
    await page.goto(app.url(`/tickets/${number}`));
    await live;
    const draft = 'Hej!\nJag kollar detta och återkommer i dag.\n\n  Mvh';
    await page.locator('#reply-body').fill(draft);

    // The citizen answers on the status page.
    const link = (await app.cli(['status-link', '--tenant', 'exempel', '--number', number])).trim();
    await citizen.goto(link);
    const said = `Jag glömde säga: det gäller Storgatan 7 (${Date.now()}).`;
    await citizen.getByLabel('Ditt meddelande').fill(said);
    await citizen.getByRole('button', { name: 'Skicka' }).click();
    await citizen.waitForURL(/ok=sent/);
    await until(page, (t) => document.getElementById('conversation').innerText.includes(t), said);

    // A colleague raises the priority: the open page's properties follow.
    const before = await page.locator('#u-prio').inputValue();
    const other = before === 'urgent' ? 'low' : 'urgent';
    await login(admin, app, 'admin@exempelkommun.se');
    await admin.goto(app.url(`/tickets/${number}`));
    await admin.locator('#u-prio').selectOption(other);
    await admin.locator('#ticket-props').getByRole('button', { name: 'Spara' }).click();
    await admin.waitForURL(/ok=updated/);
    await until(page, (v) => document.getElementById('u-prio').value === v, other);
    assert.equal(await page.locator('#reply-body').inputValue(), draft, 'the draft is untouched by live updates');

    // "Ladda om" (or any reload) keeps the unsent draft …
    await page.reload();
    assert.equal(await page.locator('#reply-body').inputValue(), draft, 'the draft survives a reload');
    await axe(page, 'the ticket page with a kept draft at 1280 px');

    // … until it is sent.
    await page.locator('#kind-note').check();
    await page.getByRole('button', { name: 'Skicka', exact: true }).click();
    await page.waitForURL(/\/tickets\//);
    await page.waitForLoadState('load');
    await page.reload();
    assert.equal(await page.locator('#reply-body').inputValue(), '', 'a sent draft is gone');
    assert.ok((await page.locator('#conversation').innerText()).includes('Jag kollar detta'));
  } finally {
    await ctx.close();
    await cctx.close();
    await actx.close();
  }
});

test('the properties stay in view while the conversation scrolls; canned responses by name', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  const actx = await newContext(browser, DESKTOP);
  const admin = await actx.newPage();
  try {
    await login(page, app, 'agent@exempelkommun.se');
    const path = `/tickets/${number}`;
    // "Färdigt svar": each entry by its own name, the names an administrator gave them.
    await login(admin, app, 'admin@exempelkommun.se');
    await admin.goto(app.url('/admin/canned'));
    const titles = await admin.locator('table a[href^="/admin/canned/"]').allInnerTexts();
    await page.goto(app.url(path));
    const options = (await page.locator('#canned option').allInnerTexts()).filter((t) => t !== '–');
    assert.ok(options.length >= 2, `canned responses offered: ${options}`);
    assert.equal(new Set(options).size, options.length, `each entry is told apart: ${options}`);
    for (const o of options) {
      assert.ok(!o.includes(number), `not the ticket's number: ${o}`);
      assert.ok(titles.map((t) => t.trim()).includes(o.trim()), `${o} is a canned response's name (${titles})`);
    }
    // A conversation longer than the screen.
    for (let i = 1; i <= 3; i++) {
      await page.goto(app.url(path));
      await page.locator('#kind-note').check();
      await page.locator('#reply-body').fill(Array.from({ length: 25 }, (_, l) => `Anteckning ${i}, rad ${l + 1}`).join('\n'));
      await page.getByRole('button', { name: 'Skicka', exact: true }).click();
      // The page after sending says so (and then drops ?ok= from its address, so a reload does
      // not clear a newer draft): wait for what it says, not for the address.
      await page.locator('p.flash', { hasText: 'Anteckningen är sparad.' }).waitFor();
    }
    await page.goto(app.url(path));
    const scrolled = await page.evaluate(() => {
      const msgs = document.querySelectorAll('#conversation .msg');
      msgs[msgs.length - 1].scrollIntoView({ block: 'end' });
      return window.scrollY;
    });
    assert.ok(scrolled > 800, `the conversation scrolled (${scrolled} px)`);
    const box = await page.locator('#ticket-props').boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= DESKTOP.height,
      `status, priority and assignee in view after scrolling: ${JSON.stringify(box)}`);
    for (const id of ['#u-status', '#u-prio', '#u-assignee']) {
      const b = await page.locator(id).boundingBox();
      assert.ok(b.y >= 0 && b.y + b.height <= DESKTOP.height, `${id} in view`);
    }
    // Every action of the panel is reachable within it (it scrolls by itself).
    const side = await page.evaluate(() => {
      const s = getComputedStyle(document.getElementById('ticket-side'));
      return { position: s.position, overflowY: s.overflowY };
    });
    assert.equal(side.position, 'sticky');
    await shot(page, 'ticket-page-scrolled-desktop');
    await axe(page, 'the scrolled ticket page at 1280 px');

  } finally {
    await ctx.close();
    await actx.close();
  }
});

test('the ticket page at 375 px stacks the panel below the conversation (axe)', async () => {
  const ctx = await newContext(browser, PHONE);
  const page = await ctx.newPage();
  try {
    await login(page, app, 'agent@exempelkommun.se');
    await page.goto(app.url(`/tickets/${number}`));
    const over = await overflow(page);
    assert.ok(over <= 0, `the ticket page is ${over}px wider than the phone screen`);
    const conv = await page.locator('#conversation').boundingBox();
    const props = await page.locator('#ticket-props').boundingBox();
    assert.ok(props.y > conv.y, 'the panel follows the conversation');
    assert.ok(props.x >= 0 && props.x + props.width <= PHONE.width + 1, 'the panel fits the screen');
    await shot(page, 'ticket-page-phone');
    await axe(page, 'the ticket page at 375 px');
  } finally {
    await ctx.close();
  }
});
