// The agent workspace in a real browser (Debian chromium driven by playwright-core), with the
// mail channel for real: a throw-away Dovecot holds the function mailbox kundtjanst@exempelkommun.se
// that Ärendo fetches over IMAP, and a local SMTP peer receives what Ärendo sends.
//
//   a. a citizen's mail shows up in "Mitt arbete" without a reload; the agent opens it and replies,
//      and the reply reaches the citizen
//   b. a ticket transferred to VA appears live in the VA list a colleague has open
//   c. "… skriver ett svar" shows live to a colleague on the same ticket
//   d. keyboard only: j/k, Enter, a, r, Ctrl+Enter
//   f. a colleague's claim shows live in the lists
//   g. service levels: badges in words, the "late" filter, waiting for an external party pauses,
//      the monthly report, and the admin pages for calendars and targets
//   e. every page: axe-core (WCAG 2.1 A/AA) without violations at 1280 px and 375 px, no sideways
//      scrolling at 375 px, full-page screenshots in target/screenshots/
//
// One Ärendo, Dovecot and SMTP peer for the whole file; each test signs in its own browser contexts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  DESKTOP, PHONE, axe, launchBrowser, liveConnected, login, newContext, overflow, shot, startApp,
} from './support/app.mjs';
import { citizenMail, startDovecot } from './support/dovecot.mjs';
import { startSmtp } from './support/smtp.mjs';

const MAILBOX = 'kundtjanst@exempelkommun.se';
const MAILBOX_PASSWORD = 'imap-hemligt-7';
const KIM = 'agent@exempelkommun.se';
const VERA = 'va@exempelkommun.se';
const ALVA = 'admin@exempelkommun.se';
const MIRA = 'miljo@exempelkommun.se';
const INTAKE_MS = 20000;
const LIVE_MS = 10000;

let app, imap, smtp, browser;

before(async () => {
  [smtp, imap] = await Promise.all([startSmtp(), startDovecot([[MAILBOX, MAILBOX_PASSWORD]])]);
  app = await startApp({
    env: {
      ...smtp.env,
      // Look for new mailboxes every second; re-check every 2 s if the server has no IDLE.
      ARENDO_MAIL__IMAP_SUPERVISOR_SECONDS: '1',
      ARENDO_MAIL__IMAP_POLL_SECONDS: '2',
    },
  });
  await app.cli(['mailbox', 'add', '--tenant', 'exempel', '--address', MAILBOX, '--queue', 'kundtjanst',
    '--imap-host', '127.0.0.1', '--imap-port', String(imap.port), '--tls', 'plain', '--after-import', 'seen'],
  `${MAILBOX_PASSWORD}\n`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await imap?.stop();
  await smtp?.stop();
});

/** A new browser context signed in as `email`, on "Mitt arbete" with its live stream connected. */
async function signedIn(email, viewport = DESKTOP) {
  const ctx = await newContext(browser, viewport);
  const page = await ctx.newPage();
  const live = liveConnected(page);
  await login(page, app, email);
  await live;
  return { ctx, page };
}

/** Remember the current document: `sameDocument()` is false after any reload or navigation. */
async function markDocument(page) {
  await page.evaluate(() => { window.__arendoTestMark = true; });
  return async () => page.evaluate(() => window.__arendoTestMark === true);
}

/** The number of the ticket whose row on the current page mentions `subject`. */
async function numberOf(page, subject) {
  const n = await page.locator('tr.ticket-row', { hasText: subject }).first().getAttribute('data-number');
  assert.match(n ?? '', /^KC-\d{4}-\d{6}$/, `no ticket row for "${subject}"`);
  return n;
}

const conversation = (page) => page.locator('#conversation');

test('a. a mail to the function mailbox appears live in Mitt arbete, and the reply reaches the citizen', async () => {
  const { ctx, page } = await signedIn(KIM);
  try {
    const sameDocument = await markDocument(page);
    const subject = 'Läckande brandpost vid Skolgatan 4';
    const citizen = 'sara.medborgare@example.org';
    await imap.append(MAILBOX, citizenMail({
      fromName: 'Sara Medborgare', from: citizen, to: MAILBOX, subject,
      text: 'Hej!\n\nBrandposten utanför Skolgatan 4 läcker sedan i morse. Kan någon titta på den?\n\nSara',
    }));

    const free = page.locator('section[aria-labelledby="free-h"]');
    assert.equal(await free.getByRole('heading', { level: 2 }).innerText(), 'Otilldelade i mina köer');
    const row = free.locator('tr.ticket-row', { hasText: subject });
    await row.waitFor({ timeout: INTAKE_MS });
    assert.ok(await sameDocument(), 'the page was reloaded; the row should have come in live');
    assert.equal(await row.locator('.badge-new').innerText(), 'Ny');
    // Screen-reader users are told too (the polite live region gets a text).
    await page.waitForFunction(() => document.getElementById('live-status')?.textContent.trim() !== '', null,
      { timeout: LIVE_MS });
    const number = await row.getAttribute('data-number');
    assert.match(number, /^KC-\d{4}-\d{6}$/);

    await row.getByRole('link', { name: subject }).click();
    await page.waitForURL(app.url(`/tickets/${number}`));
    assert.equal(await page.locator('h1').innerText(), subject);
    await conversation(page).getByText('Brandposten utanför Skolgatan 4 läcker').waitFor();

    assert.ok(await page.getByLabel('Svar till medborgaren').isChecked(), 'a reply to the citizen is the default');
    const reply = 'Hej Sara! Tack för att du hörde av dig, VA-jouren åker ut i eftermiddag. Ref brandpost-4711.';
    await page.getByLabel('Text', { exact: true }).fill(reply);
    await page.getByRole('button', { name: 'Skicka', exact: true }).click();
    await page.waitForURL(app.url(`/tickets/${number}?ok=reply_sent`));
    assert.equal(await page.locator('.flash[role=status]').innerText(), 'Svaret är sparat och skickas till medborgaren.');
    await conversation(page).locator('article.msg-outbound', { hasText: 'Ref brandpost-4711' }).waitFor();

    const sent = await smtp.waitFor((m) => m.to.includes(citizen) && m.text.includes('Ref brandpost-4711'), INTAKE_MS);
    assert.ok(sent.text.includes(reply), `the mail has the reply text:\n${sent.text}`);
    assert.ok(sent.subject.includes(number), `subject "${sent.subject}" names ${number}`);
    assert.ok(sent.headers.to?.includes(citizen), `To: ${sent.headers.to}`);
  } finally {
    await ctx.close();
  }
});

test('b. a ticket transferred to VA appears live in the VA list a colleague has open', async (t) => {
  const kim = await signedIn(KIM);
  const vera = await signedIn(VERA);
  try {
    const subject = 'Trasig gatubelysning';
    const number = await numberOf(kim.page, subject);

    // Vera opens VA's list from the queue overview.
    await vera.page.goto(app.url('/queues'));
    const live = liveConnected(vera.page);
    await vera.page.getByRole('rowheader', { name: 'VA' }).getByRole('link', { name: 'VA' }).click();
    await vera.page.waitForURL(/\/tickets\?queue=\d+$/);
    await live;
    assert.equal(await vera.page.locator('h1').innerText(), 'VA');
    assert.equal(await vera.page.locator(`tr.ticket-row[data-number="${number}"]`).count(), 0);
    const sameDocument = await markDocument(vera.page);

    await kim.page.goto(app.url(`/tickets/${number}`));
    await kim.page.getByLabel('Till kö').selectOption({ label: 'VA' });
    const note = 'Gäller VA:s pumpstation vid busshållplatsen, inte belysningen.';
    await kim.page.getByLabel('Anteckning till mottagaren').fill(note);
    await kim.page.getByRole('button', { name: 'Flytta', exact: true }).click();
    // Kim is not in VA, so she lands on her start page.
    await kim.page.waitForURL(app.url('/?ok=transferred'));
    await t.test('Kim is told that the ticket was moved', async () => {
      assert.ok((await kim.page.locator('main').innerText()).includes('Ärendet är flyttat.'),
        'no "Ärendet är flyttat." on Mitt arbete after the transfer');
    });

    const row = vera.page.locator(`tr.ticket-row[data-number="${number}"]`);
    await row.waitFor({ timeout: LIVE_MS });
    assert.ok(await sameDocument(), 'the VA list was reloaded; the row should have come in live');
    assert.ok((await row.innerText()).includes(subject));
    // The live row has the columns of a rendered one: the contact first, then the queue.
    const rendered = await vera.page.locator('table.tickets thead th').count();
    assert.equal(await row.locator('td').count(), rendered, 'as many cells as the table has columns');
    assert.notEqual((await row.locator('td.opt.contact').innerText()).trim(), '–', 'the contact is shown');
    assert.equal((await row.locator('td.opt:not(.contact)').first().innerText()).trim(), 'VA');

    await row.getByRole('link', { name: subject }).click();
    await vera.page.waitForURL(app.url(`/tickets/${number}`));
    await conversation(vera.page).locator('article.msg-note', { hasText: note }).waitFor();
  } finally {
    await kim.ctx.close();
    await vera.ctx.close();
  }
});

test('c. a colleague on the same ticket sees "… skriver ett svar" live', async (t) => {
  const vera = await signedIn(VERA);
  const alva = await signedIn(ALVA);
  try {
    const number = await numberOf(vera.page, 'Vattenläcka på Storgatan');
    const live = liveConnected(vera.page);
    await vera.page.goto(app.url(`/tickets/${number}`));
    await live;
    await alva.page.goto(app.url(`/tickets/${number}`));
    const writers = vera.page.locator('#writers');
    assert.equal((await writers.innerText()).trim(), '');

    const box = alva.page.getByLabel('Text', { exact: true });
    await box.pressSequentially('Hej Per! Jouren är på väg.', { delay: 15 });
    await vera.page.locator('#writers', { hasText: 'Alva Admin skriver ett svar' }).waitFor({ timeout: LIVE_MS });
    assert.equal((await writers.innerText()).trim(), 'Alva Admin skriver ett svar …');
    assert.equal((await alva.page.locator('#writers').innerText()).trim(), '', 'she is not told about herself');

    // She gives up: an empty box that loses focus stops the "writing" signal.
    await box.fill('');
    await box.blur();
    await vera.page.waitForFunction(() => document.getElementById('writers').textContent.trim() === '', null,
      { timeout: LIVE_MS });

    await t.test('"… skriver ett svar" goes away when the reply is sent',
      async () => {
        await box.pressSequentially('Hej Per! VA-jouren är på väg till Storgatan.', { delay: 10 });
        await writers.filter({ hasText: 'Alva Admin skriver ett svar' }).waitFor({ timeout: LIVE_MS });
        await alva.page.getByRole('button', { name: 'Skicka', exact: true }).click();
        await alva.page.waitForURL(app.url(`/tickets/${number}?ok=reply_sent`));
        await conversation(vera.page).locator('article.msg-outbound', { hasText: 'VA-jouren är på väg' })
          .waitFor({ timeout: LIVE_MS });
        // Starting to write shows within a second or so; stopping should too (5 s is generous).
        await vera.page.waitForFunction(() => document.getElementById('writers').textContent.trim() === '', null,
          { timeout: 5000 });
      });
  } finally {
    await vera.ctx.close();
    await alva.ctx.close();
  }
});

test('d. keyboard only: select with j/k, open with Enter, claim with a, reply with r and Ctrl+Enter', async () => {
  const { ctx, page } = await signedIn(KIM);
  try {
    const subject = 'Fråga om öppettider i jul';
    const citizen = 'maria.lind@example.org';
    const number = await numberOf(page, subject);
    const order = await page.locator('tr.ticket-row').evaluateAll((rs) => rs.map((r) => r.dataset.number));
    const at = order.indexOf(number);
    const current = () => page.locator('tr.ticket-row.current').getAttribute('data-number');

    for (let i = 0; i <= at; i++) await page.keyboard.press('j');
    assert.equal(await current(), number);
    if (at + 1 < order.length) {
      await page.keyboard.press('j');
      assert.equal(await current(), order[at + 1]);
      await page.keyboard.press('k');
    } else if (at > 0) {
      await page.keyboard.press('k');
      assert.equal(await current(), order[at - 1]);
      await page.keyboard.press('j');
    }
    assert.equal(await current(), number);
    assert.equal(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.number), number,
      'the selected row\'s link has the focus');

    await page.keyboard.press('Enter');
    await page.waitForURL(app.url(`/tickets/${number}`));
    await page.keyboard.press('a');
    await page.waitForURL(app.url(`/tickets/${number}?ok=claimed`));
    assert.equal(await page.locator('.flash[role=status]').innerText(), 'Ärendet är ditt.');
    assert.ok((await page.locator('.badges').innerText()).includes('Handläggare: Kim Kundtjänst'));

    await page.keyboard.press('r');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'reply-body');
    assert.ok(await page.locator('#kind-reply').isChecked());
    const reply = 'Hej Maria! Kommunhuset har öppet 27–30 december kl. 10–15. Ref jul-2212.';
    await page.keyboard.type(reply);
    await page.keyboard.press('Control+Enter');
    await page.waitForURL(app.url(`/tickets/${number}?ok=reply_sent`));
    await conversation(page).locator('article.msg-outbound', { hasText: 'Ref jul-2212' }).waitFor();

    const sent = await smtp.waitFor((m) => m.to.includes(citizen) && m.text.includes('Ref jul-2212'), INTAKE_MS);
    assert.ok(sent.text.includes(reply), `the mail has the reply text:\n${sent.text}`);
    assert.ok(sent.subject.includes(number), `subject "${sent.subject}" names ${number}`);
  } finally {
    await ctx.close();
  }
});

test('f. when a colleague claims a ticket, open lists show it live without calling it new or unassigned',
  async (t) => {
    const kim = await signedIn(KIM);
    const alva = await signedIn(ALVA);
    try {
      const subject = 'Soptunnan blev inte tömd';
      const number = await numberOf(kim.page, subject);
      const list = await kim.ctx.newPage();
      const live = liveConnected(list);
      await list.goto(app.url('/tickets'));
      await live;

      await alva.page.goto(app.url(`/tickets/${number}`));
      await alva.page.getByRole('button', { name: 'Ta ärendet' }).click();
      await alva.page.waitForURL(app.url(`/tickets/${number}?ok=claimed`));

      // The ticket list shows everything: the row stays and now names Alva.
      const row = list.locator(`tr.ticket-row[data-number="${number}"]`);
      await row.filter({ hasText: 'Alva Admin' }).waitFor({ timeout: LIVE_MS });
      await t.test('the updated row is not marked "Ny"',
        async () => {
        assert.equal(await row.locator('.badge-new').count(), 0, `row: ${await row.innerText()}`);
      });
      // Mitt arbete: the ticket is no longer unassigned.
      await t.test('the ticket leaves "Otilldelade i mina köer"',
        async () => {
        const free = `section[aria-labelledby="free-h"] tr.ticket-row[data-number="${number}"]`;
        await kim.page.waitForFunction((sel) => {
          const r = document.querySelector(sel);
          return !r || r.innerText.includes('Alva Admin');
        }, free, { timeout: LIVE_MS });
        assert.equal(await kim.page.locator(free).count(), 0,
          `still listed as unassigned: ${await kim.page.locator(free).innerText().catch(() => '')}`);
      });
    } finally {
      await kim.ctx.close();
      await alva.ctx.close();
    }
  });

test('e. every page passes axe at 1280 px and 375 px, fits a phone screen, and is photographed', async (t) => {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const ctx = await newContext(browser, viewport);
    const page = await ctx.newPage();
    try {
      // Open `path` (or run `go`), see its heading `h1`, then check the page as it is.
      const check = (name, what, h1, path, go = null) => t.test(`${what} (${size})`, async () => {
        if (go) {
          await go();
        } else {
          // Ask first, with the page's cookies: chromium shows an empty 404 only as a net:: error.
          const probe = await page.request.get(app.url(path), { maxRedirects: 0 });
          assert.equal(probe.status(), 200, `GET ${path} answered ${probe.status()} ${probe.statusText()}`);
          const resp = await page.goto(app.url(path));
          assert.equal(resp.status(), 200, `${path} answered ${resp.status()}`);
        }
        const heading = (await page.locator('h1').first().innerText()).trim();
        if (h1 instanceof RegExp) assert.match(heading, h1); else assert.equal(heading, h1);
        await shot(page, `${name}-${size}`);
        await axe(page, `${what} at ${viewport.width} px`);
        if (viewport === PHONE) {
          const over = await overflow(page);
          assert.ok(over <= 0, `${what} is ${over}px wider than the phone screen`);
        }
      });

      await check('login', 'the login page', 'Logga in i Ärendo', '/login');
      await login(page, app, ALVA);
      await check('work', 'Mitt arbete', 'Mitt arbete', '/');
      await check('queues', 'the queue overview', 'Köer', '/queues');
      await check('tickets', 'the ticket list', 'Ärenden', '/tickets');
      const subject = 'Soptunnan blev inte tömd';
      const number = await numberOf(page, subject);
      await check('ticket', 'a ticket', subject, `/tickets/${number}`);
      await check('bulk-confirm', 'the bulk confirmation', 'Bekräfta', null, async () => {
        await page.goto(app.url('/tickets'));
        const boxes = page.locator('tr.ticket-row input[type=checkbox]');
        await boxes.nth(0).check();
        await boxes.nth(1).check();
        await page.getByLabel('Med valda ärenden', { exact: true }).selectOption({ label: 'Stäng' });
        await page.getByRole('button', { name: 'Fortsätt' }).click();
        await page.waitForURL(app.url('/tickets/bulk'));
        assert.equal(await page.locator('ul.numbers li').count(), 2);
      });
      await check('search', 'the search page', 'Sök ärenden', '/search?q=vatten');
      await check('admin', 'the administration start page', 'Administration', '/admin');
      await check('admin-queues', 'the queue administration', 'Köer', '/admin/queues');
      await check('admin-users', 'the user administration', 'Användare', '/admin/users');
      await check('admin-mailboxes', 'the mailbox administration', 'Funktionsbrevlådor', '/admin/mailboxes');
      await check('admin-canned', 'the canned responses administration', 'Färdiga svar', '/admin/canned');
      await check('admin-deliveries', 'the failed deliveries', 'Misslyckade utskick', '/admin/deliveries');
      await check('admin-sms', 'the SMS costs', /^Sms-kostnader/, '/admin/sms');
      await check('admin-queue', 'a queue with its citizen settings', /^Kundtjänst/, null, async () => {
        await page.goto(app.url('/admin/queues'));
        await page.locator('a[href^="/admin/queues/"]', { hasText: 'Kundtjänst' }).first().click();
        await page.waitForSelector('#cit-h');
      });
      await check('admin-routing', 'the routing rules', 'Regler för inkommande ärenden', '/admin/routing');
      await check('admin-routing-try', 'a try-out of the routing rules', 'Regler för inkommande ärenden', null, async () => {
        await page.goto(app.url('/admin/routing'));
        await page.getByLabel('Kom in i kön').selectOption({ label: 'Kundtjänst' });
        await page.getByLabel('Ämne').fill('Vattenläcka i källaren');
        await page.getByRole('button', { name: 'Testa', exact: true }).click();
        await page.waitForSelector('#try-result');
        assert.match(await page.locator('#try-result').innerText(), /Vattenläckor till VA/);
      });
      await check('admin-routing-rule', 'a routing rule', 'Ändra regel', null, async () => {
        await page.goto(app.url('/admin/routing'));
        await page.getByRole('link', { name: 'Vattenläckor till VA' }).click();
        await page.waitForURL(/\/admin\/routing\/\d+$/);
      });
      await check('admin-escalation', 'the escalation targets', 'Eskalering', '/admin/escalation');
      await check('admin-escalation-records', 'a new records-system target', 'Nytt diariesystem', '/admin/escalation/new?kind=records');
      await check('admin-escalation-referral', 'a new referral department', 'Ny remissmottagare', '/admin/escalation/new?kind=referral');
      await check('admin-sms-gateway', 'the SMS provider', 'Sms-leverantör', '/admin/sms/gateway');
      await check('tickets-late', 'the list of tickets at risk, by SLA due time', 'Ärenden', '/tickets?sla=at_risk&sort=due');
      await check('admin-sla', 'the service level administration', 'Servicenivåer', '/admin/sla');
      await check('admin-sla-calendar', 'a calendar', 'Ändra kalender', null, async () => {
        await page.goto(app.url('/admin/sla'));
        await page.locator('a[href^="/admin/sla/calendars/"]').filter({ hasNotText: 'Ny kalender' }).first().click();
        await page.waitForURL(/\/admin\/sla\/calendars\/\d+$/);
      });
      await check('admin-sla-policy', 'a queue\'s targets', /^Mål för .+, prioritet Normal$/, null, async () => {
        await page.goto(app.url('/admin/sla'));
        await page.locator('a[href$="/normal"]').first().click();
        await page.waitForURL(/\/admin\/sla\/policies\/\d+\/normal$/);
      });
    } finally {
      await ctx.close();
    }
  }
});

test('g. service levels: badges in words, the late filter, waiting for an external party, report and admin', async (t) => {
  const { ctx, page } = await signedIn(ALVA);
  try {
    await t.test('every list row has an SLA badge in words, not colour alone', async () => {
      await page.goto(app.url('/tickets?sort=due'));
      const badges = page.locator('tr.ticket-row .sla');
      assert.ok(await badges.count() > 0, 'the demo tickets have service levels');
      for (const text of await badges.allInnerTexts()) {
        assert.match(text, /kvar|Försenad|SLA pausad/, `badge "${text}"`);
      }
    });
    await t.test('the "late" filter shows only late tickets', async () => {
      await page.goto(app.url('/tickets'));
      await page.getByLabel('SLA', { exact: true }).selectOption('breached');
      await page.getByRole('button', { name: 'Visa', exact: true }).click();
      await page.waitForURL(/sla=breached/);
      for (const text of await page.locator('tr.ticket-row .sla').allInnerTexts()) {
        assert.match(text, /Försenad/, `a late list shows "${text}"`);
      }
    });
    await t.test('waiting for an external party pauses the clock and says so', async () => {
      await page.goto(app.url('/tickets?sort=due'));
      const number = await page.locator('tr.ticket-row').first().getAttribute('data-number');
      await page.goto(app.url(`/tickets/${number}`));
      await page.getByLabel('Status', { exact: true }).selectOption({ label: 'Väntar på extern part' });
      await page.getByRole('button', { name: 'Spara', exact: true }).click();
      await page.waitForLoadState();
      await page.locator('.status', { hasText: 'Väntar på extern part' }).first().waitFor();
      await page.locator('.sla', { hasText: 'SLA pausad' }).first().waitFor({ timeout: LIVE_MS });
      assert.ok(await page.getByText('till Väntar på extern part').count() > 0, 'the history says whom it waits for');
    });
    await t.test('the queue overview reports the share met in time per month', async () => {
      await page.goto(app.url('/queues'));
      await page.getByText(/Servicenivå .+: andel i tid/).first().waitFor();
    });
    await t.test('an admin changes a queue\'s targets on the admin page', async () => {
      await page.goto(app.url('/admin/sla'));
      await page.locator('a[href$="/urgent"]').first().click();
      await page.getByLabel('Första svar', { exact: true }).fill('en timme');
      await page.getByRole('button', { name: 'Spara', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'Målet för första svar går inte att läsa' }).waitFor();
      await axe(page, 'the refused targets form');
      await page.getByLabel('Första svar', { exact: true }).fill('1:00');
      await page.getByRole('button', { name: 'Spara', exact: true }).click();
      await page.waitForURL(/\/admin\/sla\?ok=policy_saved$/);
      await page.getByText('Målen är sparade').waitFor();
    });
  } finally {
    await ctx.close();
  }
});

test('h. a referral handler signs in to "Mina remisser", sees the referral and nothing of the workspace', async (t) => {
  const subject = 'Soptunnan blev inte tömd';
  const kim = await signedIn(KIM);
  try {
    await kim.page.goto(app.url('/tickets'));
    const number = await numberOf(kim.page, subject);
    await kim.page.goto(app.url(`/tickets/${number}`));
    await kim.page.locator('#esc-target').selectOption({ label: 'Miljöförvaltningen' });
    await kim.page.locator('#esc-reason').fill('Luktar soptunnan illa även efter tömning?');
    await kim.page.locator('form[action$="/escalate"] button[type=submit]').click();
    await kim.page.waitForLoadState();
  } finally {
    await kim.ctx.close();
  }
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await t.test(`Mina remisser (${size})`, async () => {
      const ctx = await newContext(browser, viewport);
      const page = await ctx.newPage();
      try {
        await login(page, app, MIRA);
        assert.equal(new URL(page.url()).pathname, '/remisser');
        assert.equal((await page.locator('h1').innerText()).trim(), 'Mina remisser');
        await page.getByRole('row', { name: new RegExp(subject) }).waitFor();
        assert.equal(await page.locator('nav.mainnav a').count(), 1, 'only "Mina remisser" in the menu');
        await shot(page, `referrals-${size}`);
        await axe(page, `Mina remisser at ${viewport.width} px`);
        if (viewport === PHONE) {
          const over = await overflow(page);
          assert.ok(over <= 0, `Mina remisser is ${over}px wider than the phone screen`);
        }
        await page.getByRole('link', { name: /^KC-/ }).first().click();
        await page.waitForURL(/\/remiss\//);
        assert.match(await page.locator('body').innerText(), /Luktar soptunnan illa/);
      } finally {
        await ctx.close();
      }
    });
  }
});
