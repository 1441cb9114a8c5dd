/**
 * One browser session through a real JupyterHub, driven by tests/test_hub.py:
 * log in, click the desktop app in the JupyterLab launcher, and wait until noVNC's
 * page is framed in the Lab tab from the apps origin, then until noVNC says
 * "Connected". Prints `framed: <frame url>` and `connected: <iframe src>` or
 * `not connected: <noVNC's error>`; exits non-zero when the app is not framed.
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
    const iframe = page.locator('.jp-RemoteApp-tab iframe');
    const frame = page.frameLocator('.jp-RemoteApp-tab iframe');
    // noVNC's page, from the apps origin, in the Lab's tab
    await frame.locator('#noVNC_status').waitFor({ state: 'attached' });
    const framed = page
      .frames()
      .find(f => f.url().startsWith(APPS_URL) && f.url().includes('/vnc.html'));
    if (!framed) {
      throw new Error(
        `no frame of ${APPS_URL}: ${page.frames().map(f => f.url())}`
      );
    }
    console.log(`framed: ${framed.url()}`);
    const src = await iframe.getAttribute('src');
    try {
      await frame
        .locator('#noVNC_status', { hasText: 'Connected' })
        .waitFor({ state: 'attached', timeout: 30000 });
      await frame
        .locator('#noVNC_container canvas')
        .waitFor({ state: 'visible' });
      console.log(`connected: ${src}`);
    } catch (error) {
      const shown = await frame
        .locator('#noVNC_fallback_errormsg, #noVNC_status')
        .allInnerTexts()
        .catch(() => []);
      console.log(`not connected: ${src} ${JSON.stringify(shown)}`);
    }
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
