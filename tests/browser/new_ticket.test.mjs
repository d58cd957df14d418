// "Nytt ärende" in a real browser (Debian chromium + playwright-core + axe-core), on the demo
// installation:
//
//   a. keyboard only at 1280 px, as an agent with a caller on the line: "n" opens the form with the
//      cursor in it, Tab moves through it in order, the contact is found while typing and picked
//      with the arrow keys and Enter (an ARIA combobox), Ctrl+Enter registers the ticket — which
//      stays in the queue the agent chose although a routing rule would move a water leak to VA
//   b. the form, with the contact suggestions open, passes axe at 1280 px and 375 px and fits a phone

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, overflow, shot, startApp } from './support/app.mjs';

const KIM = 'agent@exempelkommun.se';

let app, browser;

before(async () => {
  app = await startApp();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

const focused = (page) => page.evaluate(() => document.activeElement?.id ?? '');

async function tabTo(page, id) {
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), id, `Tab leads to #${id}`);
}

test('a. an agent registers a phone call with the keyboard only', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  await login(page, app, KIM);

  await page.keyboard.press('n');
  await page.waitForURL(app.url('/tickets/new'));
  assert.equal(await focused(page), 'nt-channel-phone', 'the cursor starts in the form, on Telefon');

  await tabTo(page, 'nt-queue');
  await page.keyboard.type('Kundtj');
  assert.equal(await page.$eval('#nt-queue', (s) => s.selectedOptions[0].textContent), 'Kundtjänst');

  await tabTo(page, 'nt-contact-search');
  assert.equal(await page.getAttribute('#nt-contact-search', 'role'), 'combobox');
  await page.keyboard.type('maria.lind');
  const option = page.getByRole('option', { name: /maria\.lind@example\.org/ });
  await option.waitFor();
  assert.equal(await page.getAttribute('#nt-contact-search', 'aria-expanded'), 'true');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute('#nt-contact-search', 'aria-activedescendant'), await option.getAttribute('id'));
  await page.keyboard.press('Enter');
  assert.ok(await page.inputValue('#nt-contact-id'), 'the contact is picked');
  assert.equal(await page.getAttribute('#nt-contact-search', 'aria-expanded'), 'false');
  assert.ok(await page.isHidden('#nt-new-contact'), 'no new contact to fill in');

  // The new-contact fields are gone: Tab goes on to the question.
  await tabTo(page, 'nt-subject');
  await page.keyboard.type('Vattenläcka i källaren');
  await tabTo(page, 'nt-body');
  await page.keyboard.type('Det står vatten på golvet i källaren sedan i morse.');
  await tabTo(page, 'nt-answered');
  await tabTo(page, 'nt-kb');
  await tabTo(page, 'nt-ack');
  await page.keyboard.press('Space');
  assert.ok(await page.isChecked('#nt-ack'));
  await tabTo(page, 'nt-priority');
  await tabTo(page, 'nt-note');
  await page.keyboard.type('Ringde från jobbet, nås efter 16.');
  await shot(page, 'new-ticket-filled-desktop');

  await page.keyboard.press('Control+Enter');
  await page.waitForURL(/\/tickets\/[A-Z]+-\d{4}-\d+\?ok=registered$/);
  const html = await page.content();
  assert.match(html, /Ärendet är registrerat och väntar i kön\./);
  assert.match(html, /Det står vatten på golvet i källaren sedan i morse\./);
  assert.match(html, /Ringde från jobbet, nås efter 16\./, 'the note is on the ticket');
  assert.match(html, /maria\.lind@example\.org/, 'the picked contact is the ticket’s contact');
  // A routing rule sends water leaks in Kundtjänst to VA; the agent's ticket stays.
  const where = await page.$eval('.ticket p.mono', (el) => el.textContent);
  assert.match(where, /· Kundtjänst$/, where);
  await ctx.close();
});

test('b. the form passes axe at 1280 px and 375 px', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    await login(page, app, KIM);
    await page.goto(app.url('/tickets/new'));
    await axe(page, `Nytt ärende at ${viewport.width} px`);
    await page.focus('#nt-contact-search');
    await page.keyboard.type('example.org');
    await page.locator('#nt-contact-list [role=option]').first().waitFor();
    await axe(page, `Nytt ärende with contact suggestions at ${viewport.width} px`);
    if (viewport === PHONE) {
      const over = await overflow(page);
      assert.ok(over <= 0, `Nytt ärende is ${over}px wider than the phone screen`);
    }
    await shot(page, `new-ticket-${size}`);
    await ctx.close();
  }
});
