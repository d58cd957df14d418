// The knowledge base in a real browser (Debian chromium + playwright-core + axe-core), on the demo
// installation, whose first start imported the starter articles:
//
//   a. citizens: /kb leads to Exempelkommun's questions and answers; searching without å/ä/ö and
//      with a typo finds the right article; the pages pass axe at 1280 px and 375 px and fit a phone
//   b. an agent opens a ticket, the panel suggests the right article, "Infoga i svar" puts its
//      text and public link where the cursor is (no reload), the reply goes out and the ticket's
//      history says which article answered it
//   c. the editor: list, article, edit with Markdown preview and revisions pass axe

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

async function checkPage(page, what, viewport) {
  await axe(page, `${what} at ${viewport.width} px`);
  if (viewport === PHONE) {
    const over = await overflow(page);
    assert.ok(over <= 0, `${what} is ${over}px wider than the phone screen`);
  }
}

test('a. citizens find answers at /kb on a computer and on a phone', async () => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      await page.goto(app.url('/kb'));
      assert.equal(new URL(page.url()).pathname, '/kb/exempel', 'one municipality: straight to it');
      assert.match(await page.locator('h1').innerText(), /Vanliga frågor och svar – Exempelkommun/);
      assert.equal(await page.locator('a[href="/kb/exempel/rutin-akut-vattenlacka-jour"]').count(), 0,
        'internal routines are not listed');
      await shot(page, `kb-public-${size}`);
      await checkPage(page, 'the public knowledge base', viewport);

      await page.getByLabel('Vad vill du veta?').fill('vattenlacka');
      await page.getByRole('button', { name: 'Sök' }).click();
      await page.waitForURL(/q=vattenlacka/);
      const first = page.locator('ol.kb-hits li a').first();
      assert.equal(await first.getAttribute('href'), '/kb/exempel/vattenlacka');
      await checkPage(page, 'public search results', viewport);

      await page.getByLabel('Vad vill du veta?').fill('byggloov altan');
      await page.getByRole('button', { name: 'Sök' }).click();
      await page.waitForURL(/q=byggloov/);
      const hrefs = await page.locator('ol.kb-hits li a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert.ok(hrefs.slice(0, 3).some((h) => /bygglov|attefall|friggebod/.test(h)), `typo found: ${hrefs}`);

      await page.goto(app.url('/kb/exempel/vattenlacka'));
      assert.match(await page.locator('h1').innerText(), /Vattenläcka/);
      await shot(page, `kb-article-${size}`);
      await checkPage(page, 'a public article', viewport);
    } finally {
      await ctx.close();
    }
  }
});

test('b. an agent answers a ticket with a suggested article', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  try {
    await login(page, app, ALVA);
    await page.goto(app.url('/tickets'));
    const number = await page.locator('tr.ticket-row', { hasText: 'Vattenläcka på Storgatan' }).first()
      .getAttribute('data-number');
    await page.goto(app.url(`/tickets/${number}`));
    const panel = page.locator('section.kb-panel');
    const suggestion = panel.locator('ol.kb-hits li').first();
    assert.equal(await suggestion.locator('a.kb-title').getAttribute('href'), '/knowledge/vattenlacka');

    await page.evaluate(() => { window.__sameDocument = true; });
    const reply = page.locator('#reply-body');
    await reply.fill('Hej Per!\n\nTack för ditt mejl.');
    await reply.evaluate((el) => el.setSelectionRange(el.value.length, el.value.length));
    await suggestion.getByRole('link', { name: /Infoga i svar/ }).click();
    await page.waitForFunction(() => document.getElementById('reply-body').value.includes('/kb/exempel/vattenlacka'));
    assert.ok(await page.evaluate(() => window.__sameDocument === true), 'inserted without a reload');
    const text = await reply.inputValue();
    assert.ok(text.startsWith('Hej Per!\n\nTack för ditt mejl.\n\n'), text);
    assert.equal(await page.locator('#reply-form input[name="kb_article"]').count(), 1);

    await page.locator('#reply-send').click();
    await page.locator('p.flash', { hasText: 'Svaret är sparat och skickas till medborgaren.' }).waitFor();
    assert.match(await page.locator('section.kb-panel').innerText(), /Besvarat med:\s*Vattenläcka/);
    assert.match(await page.content(), /Besvarat med artikeln/);
  } finally {
    await ctx.close();
  }
});

test('c. the editor pages pass axe', async () => {
  const ctx = await newContext(browser, DESKTOP);
  const page = await ctx.newPage();
  try {
    await login(page, app, ALVA);
    await page.goto(app.url('/knowledge'));
    assert.equal(await page.locator('h1').innerText(), 'Kunskapsbanken');
    await checkPage(page, 'the knowledge base list', DESKTOP);
    await page.getByLabel('Sök i kunskapsbanken').fill('sophämtningen');
    await page.getByRole('button', { name: 'Sök' }).click();
    await page.waitForURL(/q=/);
    assert.ok(await page.locator('ol.kb-hits a[href="/knowledge/sophamtning-tomningsschema"]').count() > 0);
    await checkPage(page, 'knowledge base search', DESKTOP);
    await page.goto(app.url('/knowledge/vattenlacka'));
    await checkPage(page, 'an article for agents', DESKTOP);
    await page.goto(app.url('/knowledge/vattenlacka/edit'));
    await page.getByLabel('Text (Markdown)').fill('## Ring jouren\n\nVid **akut** läcka: ring 0123-45 67 89.');
    await page.getByRole('button', { name: 'Förhandsgranska' }).click();
    await page.waitForSelector('.kb-body.preview strong');
    assert.equal(await page.locator('.kb-body.preview strong').innerText(), 'akut');
    await shot(page, 'kb-edit-desktop');
    await checkPage(page, 'the article editor with preview', DESKTOP);
    await page.goto(app.url('/knowledge/vattenlacka/revisions'));
    await checkPage(page, 'the revisions page', DESKTOP);
  } finally {
    await ctx.close();
  }
});
