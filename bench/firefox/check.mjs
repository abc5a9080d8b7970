// The web page in Firefox (Debian's firefox-esr) driven by puppeteer-core
// over WebDriver BiDi: the task list shows a succeeded task, the viewer
// draws its word boxes, the system page its devices; no console error.
// Run by bench/firefox/check.sh (the browser tests in CI use Chromium).
// Usage: node check.mjs BASE_URL TASK_ID OUT_DIR
import puppeteer from 'puppeteer-core';
const [base, id, out] = process.argv.slice(2);
const browser = await puppeteer.launch({ browser: 'firefox', executablePath: '/usr/bin/firefox-esr', headless: true, protocol: 'webDriverBiDi' });
const errors = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(base + '/#/', { waitUntil: 'load' });
  await page.waitForSelector(`tr[data-id="${id}"][data-status="succeeded"]`, { timeout: 20000 });
  await page.screenshot({ path: `${out}/tasks.png` });
  await page.goto(base + '/#/tasks/' + id);
  await page.waitForSelector('svg rect, svg polygon', { timeout: 20000 });
  const words = await page.$$eval('svg rect, svg polygon', (els) => els.length);
  await page.screenshot({ path: `${out}/viewer.png` });
  await page.goto(base + '/#/system');
  await page.waitForSelector('#devices > *', { timeout: 20000 });
  await page.screenshot({ path: `${out}/system.png` });
  console.log(JSON.stringify({ ok: true, wordBoxes: words, version: await browser.version(), errors }));
} finally { await browser.close(); }
