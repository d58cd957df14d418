// Statistik in a real browser (Debian chromium + playwright-core + axe-core) on the demo
// installation (issue 19): /stats for the admin (the whole municipality) and for a queue lead
// (Vera, VA) passes axe at 1280 px and 375 px without sideways scrolling; the charts and the heat
// map are images with accessible names; a bad period shows its error with the form kept; the
// admin's per-agent setting page passes axe too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';

const ALVA = 'admin@exempelkommun.se';
const VERA = 'va@exempelkommun.se';

let app, browser;

before(async () => {
  app = await startApp();
  // The demo's tickets counted now (the follower would do it within seconds).
  await app.cli(['stats', 'rebuild']);
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

test('Statistik passes axe at desktop and phone width, its charts have names', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    for (const who of [ALVA, VERA]) {
      const ctx = await newContext(browser, viewport);
      const page = await ctx.newPage();
      try {
        await login(page, app, who);
        await page.getByRole('link', { name: 'Statistik', exact: true }).first().click();
        await page.waitForURL(app.url('/stats'));
        await page.getByRole('heading', { level: 1, name: 'Statistik' }).waitFor();
        // Open every table, so axe and the width check see them too.
        await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = true; }));
        await check(page, `/stats for ${who}`, viewport);
        const heat = page.getByRole('img', { name: 'Värmekarta: nya ärenden per veckodag och timme' });
        await heat.waitFor();
        assert.match(await heat.getAttribute('aria-labelledby'), /chart-hours-t chart-hours-d/);
        await page.getByRole('img', { name: 'Ärendebalans per period' }).waitFor();
        await page.getByRole('img', { name: 'Nya ärenden per period' }).waitFor();
        assert.ok(await page.getByRole('link', { name: /Ladda ned CSV/ }).count() > 10);
        await shot(page, `stats-${size}-${who.split('@')[0]}`);

        await page.goto(app.url('/stats?start=2026-03-10&end=2026-03-01'));
        await page.getByRole('alert').waitFor();
        assert.match(await page.getByRole('alert').innerText(), /sista dagen/i);
        assert.equal(await page.getByLabel('Från och med').inputValue(), '2026-03-10');
        await check(page, `/stats with a bad period for ${who}`, viewport);
      } finally {
        await ctx.close();
      }
    }
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await login(page, app, ALVA);
      await page.goto(app.url('/admin/stats'));
      await page.getByRole('checkbox', { name: /Visa statistik per handläggare/ }).check();
      await page.getByRole('button', { name: 'Spara' }).click();
      await page.waitForURL(/ok=stats_saved/);
      await check(page, '/admin/stats', viewport);
      await page.goto(app.url('/stats'));
      await page.getByRole('heading', { level: 2, name: 'Per handläggare' }).waitFor();
      await page.$$eval('details', (ds) => ds.forEach((d) => { d.open = true; }));
      await check(page, '/stats with figures per agent', viewport);
      await page.goto(app.url('/admin/stats'));
      await page.getByRole('checkbox', { name: /Visa statistik per handläggare/ }).uncheck();
      await page.getByRole('button', { name: 'Spara' }).click();
      await page.waitForURL(/ok=stats_saved/);
    } finally {
      await ctx.close();
    }
  }
});
