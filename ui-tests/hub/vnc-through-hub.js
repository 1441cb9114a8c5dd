/**
 * One browser session through a real JupyterHub, driven by tests/test_hub.py:
 * log in, click the desktop app in the JupyterLab launcher, and wait until the
 * Lab tab's own RFB client (noVNC's, in the Lab's page) says "Connected", its
 * WebSocket on the apps origin. Prints `websocket: <url, ticket value cut>` for
 * each WebSocket of the page to the apps origin, `app frames: <n>` (pages of the
 * apps origin in the Lab: none, no app script runs there), and `connected:
 * <status>` or `not connected: <status>`; exits non-zero when it does not
 * connect.
 *
 * Environment: HUB_URL, HUB_USER, HUB_PASSWORD, APPS_URL (the apps origin),
 * SCREENSHOT (a PNG path).
 */
const { chromium } = require('@playwright/test');

const TIMEOUT = 60000;

async function main() {
  const { HUB_URL, HUB_USER, HUB_PASSWORD, APPS_URL, SCREENSHOT } = process.env;
  const browser = await chromium.launch(require('../chromium.js'));
  const page = await browser.newPage({
    viewport: { width: 1280, height: 860 }
  });
  page.setDefaultTimeout(TIMEOUT);
  const apps = new URL(APPS_URL);
  const wsOrigin = `${apps.protocol === 'https:' ? 'wss' : 'ws'}://${apps.host}`;
  page.on('websocket', ws => {
    if (ws.url().startsWith(wsOrigin)) {
      console.log(
        `websocket: ${ws.url().replace(/(remoteapp-ticket=)[^&]*/, '$1…')}`
      );
    }
  });
  try {
    await page.goto(`${HUB_URL}/hub/login`);
    await page.fill('input[name="username"]', HUB_USER);
    await page.fill('input[name="password"]', HUB_PASSWORD);
    await Promise.all([
      page.waitForURL(`**/user/${HUB_USER}/lab**`),
      page.click('#login_submit, input[type="submit"], button[type="submit"]')
    ]);
    const card = page.locator('.jp-LauncherCard', {
      has: page.locator('.jp-LauncherCard-label', { hasText: 'Demo Desktop' })
    });
    await card.click();
    const dialog = page.locator('.jp-Dialog');
    await dialog.getByRole('button', { name: 'Start' }).click();
    const status = page.locator(
      '.jp-RemoteApp-tab .jp-RemoteApp-rfbStatusText'
    );
    try {
      await status
        .filter({ hasText: /^Connected$/ })
        .waitFor({ state: 'visible', timeout: TIMEOUT });
      await page
        .locator('.jp-RemoteApp-tab .jp-RemoteApp-rfbScreen canvas')
        .waitFor({ state: 'visible' });
      console.log(`connected: ${await status.innerText()}`);
    } catch (error) {
      const shown = await status.innerText().catch(() => String(error));
      console.log(`not connected: ${shown}`);
      process.exitCode = 1;
    }
    const frames = page.frames().filter(f => f.url().startsWith(APPS_URL));
    console.log(`app frames: ${frames.length}`);
  } finally {
    if (SCREENSHOT) {
      await page.screenshot({ path: SCREENSHOT }).catch(() => undefined);
    }
    await browser.close();
  }
}

main().catch(error => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
