// The ticket lists on a phone and for the keyboard (issue 17, points 16 and 21), in a real browser
// (Debian chromium driven by playwright-core) against `arendo serve` with the demo data:
//
//   a. at 375 px the header takes at most ~15 % of the screen's height, and the first ticket row
//      is on the first screen (Mitt arbete and a queue list)
//   b. checkboxes sit on the same row as their labels, vertically centred with the text, on the
//      admin queue page and the SLA calendar page
//   c. Mitt arbete for a queue lead at 375 px: the table that scrolls sideways is a named region
//      the keyboard reaches (tabindex=0), and it does scroll
//   d. axe-core (WCAG 2.1 A/AA) without violations at 1280 px and 375 px on Mitt arbete, a queue
//      list and an admin page, with screenshots in target/screenshots/
//
// One Ärendo for the whole file; each test signs in its own browser context.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, axe, launchBrowser, login, newContext, shot, startApp } from './support/app.mjs';

const KIM = 'agent@exempelkommun.se';
const VERA = 'va@exempelkommun.se';
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

async function signedIn(email, viewport = DESKTOP) {
  const ctx = await newContext(browser, viewport);
  const page = await ctx.newPage();
  await login(page, app, email);
  return { ctx, page };
}

/** The list page of the queue named `name`, from the queue overview. */
async function openQueue(page, name) {
  await page.goto(app.url('/queues'));
  await page.getByRole('rowheader', { name }).getByRole('link', { name }).click();
  await page.waitForURL(/\/tickets\?queue=\d+$/);
  assert.equal(await page.locator('h1').innerText(), name);
}

/** The admin page of the queue named `name`. */
async function openAdminQueue(page, name) {
  await page.goto(app.url('/admin/queues'));
  await page.locator('main').getByRole('link', { name, exact: true }).first().click();
  await page.waitForURL(/\/admin\/queues\/\d+$/);
}

test('a. on a phone the header is compact and the first ticket row is on the first screen', async (t) => {
  const { ctx, page } = await signedIn(KIM, PHONE);
  try {
    const check = async (what) => {
      const header = await page.locator('header.top').boundingBox();
      const share = header.height / PHONE.height;
      assert.ok(share <= 0.15, `${what}: the header is ${Math.round(header.height)} px, ${Math.round(share * 100)} % of the screen`);
      const row = page.locator('tr.ticket-row').first();
      await row.waitFor();
      const box = await row.boundingBox();
      assert.ok(box.y + Math.min(box.height, 40) <= PHONE.height,
        `${what}: the first ticket row starts at ${Math.round(box.y)} px, below the first screen (${PHONE.height} px)`);
      await shot(page, `lists-first-screen-${what.replace(/\W+/g, '-')}`);
    };
    await t.test('Mitt arbete', async () => {
      await page.goto(app.url('/'));
      await check('Mitt arbete');
    });
    await t.test('a queue list', async () => {
      await openQueue(page, 'Kundtjänst');
      await check('Kundtjänst');
    });
  } finally {
    await ctx.close();
  }
});

/**
 * For every checkbox in <main>: its box, and the box of the first line of its label's text.
 * A checkbox without a label text is reported with `text: null`.
 */
function checkboxesAndLabels(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('main input[type=checkbox]')).map((box) => {
    const label = box.labels && box.labels[0];
    const b = box.getBoundingClientRect();
    let text = null;
    if (label) {
      const range = document.createRange();
      const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
      let node;
      while ((node = walker.nextNode())) {
        if (!node.textContent.trim()) continue;
        range.selectNodeContents(node);
        const r = range.getClientRects()[0];
        if (r) { text = { top: r.top, bottom: r.bottom, left: r.left }; break; }
      }
    }
    return { name: box.name + (box.id ? `#${box.id}` : ''), box: { top: b.top, bottom: b.bottom, right: b.right }, text };
  }));
}

test('b. checkboxes are aligned with their labels on the queue page and the SLA calendar page', async (t) => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const { ctx, page } = await signedIn(ALVA, viewport);
    try {
      const check = (what, go) => t.test(`${what} (${size})`, async () => {
        await go();
        await shot(page, `lists-checkboxes-${what.replace(/\W+/g, '-')}-${size}`);
        const all = await checkboxesAndLabels(page);
        assert.ok(all.length >= 2, `${what} has checkboxes`);
        for (const { name, box, text } of all) {
          assert.ok(text, `${what}: the checkbox ${name} has a label text`);
          const boxMid = (box.top + box.bottom) / 2;
          const textMid = (text.top + text.bottom) / 2;
          assert.ok(text.top < box.bottom && text.bottom > box.top,
            `${what}: ${name}'s label is not on the checkbox's row (box ${box.top}–${box.bottom}, text ${text.top}–${text.bottom})`);
          assert.ok(Math.abs(boxMid - textMid) <= 4,
            `${what}: ${name} is ${Math.round(Math.abs(boxMid - textMid))} px off its label's middle`);
          assert.ok(text.left >= box.right && text.left - box.right <= 24,
            `${what}: ${name}'s label starts ${Math.round(text.left - box.right)} px from the box`);
        }
      });
      await check('the admin queue page', () => openAdminQueue(page, 'Kundtjänst'));
      await check('the SLA calendar page', async () => {
        await page.goto(app.url('/admin/sla/calendars/new'));
        await page.locator('h1').waitFor();
      });
    } finally {
      await ctx.close();
    }
  }
});

test('c. on a phone, a queue lead\'s Mitt arbete table is a scroll region the keyboard reaches', async () => {
  const { ctx, page } = await signedIn(VERA, PHONE);
  try {
    await page.goto(app.url('/'));
    const regions = page.locator('main .table-wrap');
    assert.ok(await regions.count() >= 1, 'Mitt arbete has a ticket table');
    const wrap = regions.first();
    assert.equal(await wrap.getAttribute('tabindex'), '0');
    assert.equal(await wrap.getAttribute('role'), 'region');
    const name = await wrap.getAttribute('aria-label');
    assert.ok(name && name.trim().length > 0, 'the region has a name');
    const { scroll, client } = await wrap.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    assert.ok(scroll > client, `the table scrolls sideways at 375 px (${scroll} > ${client})`);

    // Tab from the top of the page until the region has the focus.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 80 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await wrap.evaluate((el) => document.activeElement === el);
    }
    assert.ok(reached, 'Tab reaches the table region');
    const outline = await wrap.evaluate((el) => getComputedStyle(el).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused region shows its focus');
    // The arrow keys scroll it.
    const before = await wrap.evaluate((el) => el.scrollLeft);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((b) => document.activeElement.scrollLeft > b, before, { timeout: 2000 });
    await shot(page, 'lists-work-lead-phone');
  } finally {
    await ctx.close();
  }
});

test('d. Mitt arbete, a queue list and an admin page pass axe at 1280 px and 375 px', async (t) => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const { ctx, page } = await signedIn(VERA, viewport);
    const admin = await signedIn(ALVA, viewport);
    try {
      await t.test(`Mitt arbete (${size})`, async () => {
        await page.goto(app.url('/'));
        // The bulk form opened too.
        await page.locator('details.bulk-box summary').click();
        await axe(page, `Mitt arbete at ${viewport.width} px`);
        await shot(page, `lists-work-${size}`);
      });
      await t.test(`a queue list (${size})`, async () => {
        await openQueue(page, 'VA');
        await axe(page, `the VA list at ${viewport.width} px`);
        await shot(page, `lists-queue-${size}`);
      });
      await t.test(`an admin page (${size})`, async () => {
        await openAdminQueue(admin.page, 'Kundtjänst');
        await axe(admin.page, `the admin queue page at ${viewport.width} px`);
        await admin.page.goto(app.url('/admin/sla/calendars/new'));
        await axe(admin.page, `the SLA calendar page at ${viewport.width} px`);
        await shot(admin.page, `lists-admin-${size}`);
      });
    } finally {
      await ctx.close();
      await admin.ctx.close();
    }
  }
});
