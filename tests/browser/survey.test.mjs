// Servicemätning (D65) in a real browser (Debian chromium + playwright-core + axe-core), on the
// demo installation: an admin switches the survey on for Kundtjänst, a ticket is answered and
// resolved through the API, the survey mail reaches the test's SMTP peer, the citizen answers on
// a phone and a computer, and the survey page and /stats/survey pass axe at 1280 and 375 px.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, sleep, startApp } from './support/app.mjs';
import { startSmtp } from './support/smtp.mjs';

let app, browser, smtp, token;

before(async () => {
  smtp = await startSmtp();
  app = await startApp({ env: smtp.env });
  browser = await launchBrowser();
  token = (await app.cli(['token', 'create', '--tenant', 'exempel', '--email', 'admin@exempelkommun.se',
    '--name', 'survey-test', '--scopes', 'tickets:read,tickets:write,queues:read,stats:read'])).trim();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await smtp?.stop();
});

async function check(page, what, viewport) {
  await axe(page, `${what} at ${viewport.width} px`);
  if (viewport === PHONE) {
    const over = await overflow(page);
    assert.ok(over <= 0, `${what} is ${over}px wider than the phone screen`);
  }
}

async function apiCall(method, path, body) {
  const r = await fetch(app.url(path), {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** A resolved ticket from `email` in Kundtjänst; returns the survey link mailed to them. */
async function surveyLinkFor(email) {
  const queues = await apiCall('GET', '/api/v1/queues');
  const list = queues.queues ?? queues;
  const kt = list.find((q) => q.name === 'Kundtjänst');
  const t = await apiCall('POST', '/api/v1/tickets', {
    queue: kt.id, subject: 'Sophämtning', body: 'När töms kärlet?', contact: { name: 'Eva Ek', email },
  });
  await apiCall('POST', `/api/v1/tickets/${t.number}/messages`, { kind: 'reply', body: 'På tisdag.' });
  await apiCall('PATCH', `/api/v1/tickets/${t.number}`, { status: 'resolved' });
  for (let i = 0; i < 100; i++) {
    const m = smtp.messages.find((x) => x.to.includes(email) && /\/survey\//.test(x.text));
    if (m) return new URL(m.text.match(/https?:\/\/\S+\/survey\/\S+/)[0]).pathname;
    await sleep(100);
  }
  throw new Error(`no survey mail to ${email}`);
}

test('the survey page and the results pass axe on a phone and a computer', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const admin = await ctx.newPage();
  await login(admin, app, 'admin@exempelkommun.se');
  await admin.goto(app.url('/admin/queues'));
  await admin.getByRole('link', { name: 'Kundtjänst' }).first().click();
  await admin.getByLabel('Skicka enkät efter lösta ärenden').check();
  await admin.getByLabel('Skicka enkäten efter (minuter)').fill('0');
  await admin.locator('form[action$="/survey"] button[type=submit]').click();
  await admin.waitForURL(/ok=survey_saved/);
  await check(admin, 'the queue page with the survey setting', DESKTOP);

  for (const [size, viewport, score] of [['desktop', DESKTOP, '5'], ['phone', PHONE, '3']]) {
    const path = await surveyLinkFor(`eva.${size}@example.org`);
    const c = await newContext(browser, viewport);
    const page = await c.newPage();
    try {
      const resp = await page.goto(app.url(path));
      assert.equal(resp.status(), 200);
      await shot(page, `survey-${size}`);
      await check(page, 'the survey page', viewport);
      for (const q of ['Hur blev du bemött?', 'Hur tydligt var svaret du fick?', 'Hur enkelt var det att få kontakt och hjälp?']) {
        await page.getByRole('group', { name: q }).getByLabel(score, { exact: false }).first().check();
      }
      await page.getByLabel('Vill du säga något mer? (frivilligt)').fill(`Snabbt svar (${size}).`);
      await page.getByRole('button', { name: 'Skicka svaren' }).click();
      await page.waitForURL(/ok=thanks/);
      assert.match(await page.locator('[role=status]').innerText(), /Tack för dina svar/);
      await check(page, 'the survey page after the answer', viewport);
      const bad = await page.goto(app.url(`${path.slice(0, -2)}xx`));
      assert.equal(bad.status(), 403);
      await check(page, 'the invalid survey link page', viewport);
    } finally {
      await c.close();
    }
  }

  for (const viewport of [DESKTOP, PHONE]) {
    await admin.setViewportSize(viewport);
    const r = await admin.goto(app.url('/stats/survey'));
    assert.equal(r.status(), 200);
    assert.match(await admin.locator('table').innerText(), /Kundtjänst/);
    await shot(admin, `survey-results-${viewport.width}`);
    await check(admin, '/stats/survey', viewport);
  }
  await ctx.close();
});
