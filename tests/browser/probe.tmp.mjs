import { existsSync } from 'node:fs';
import { startApp, launchBrowser, newContext, login, liveConnected, sleep } from './support/app.mjs';
const app = await startApp(); const b = await launchBrowser();
try {
  const ctx = await newContext(b); const p = await ctx.newPage();
  const live = liveConnected(p); await login(p, app, 'agent@exempelkommun.se'); await live;
  const t = Date.now(); process.kill(app.pid, 'SIGTERM');
  while (existsSync(`/proc/${app.pid}`) && Date.now() - t < 20000) await sleep(50);
  console.log('RESULT exit after ms', Date.now() - t, 'alive', existsSync(`/proc/${app.pid}`));
} catch (e) { console.log('ERR', e); } finally { await b.close(); await app.stop(); }
