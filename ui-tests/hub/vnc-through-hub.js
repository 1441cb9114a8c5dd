/**
 * One browser session through a real JupyterHub, driven by tests/test_hub.py:
 * log in, click the desktop app in the JupyterLab launcher, and wait until noVNC
 * says "Connected" inside the Lab tab. Exits non-zero with the reason otherwise.
 *
 * Environment: HUB_URL, HUB_USER, HUB_PASSWORD, SCREENSHOT (a PNG path).
 */
const { chromium } = require('@playwright/test');

const TIMEOUT = 60000;

async function main() {
  const { HUB_URL, HUB_USER, HUB_PASSWORD, SCREENSHOT } = process.env;
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
    const frame = page.frameLocator('.jp-RemoteApp-tab iframe');
    await frame
      .locator('#noVNC_status', { hasText: 'Connected' })
      .waitFor({ state: 'attached' });
    await frame
      .locator('#noVNC_container canvas')
      .waitFor({ state: 'visible' });
    const src = await page
      .locator('.jp-RemoteApp-tab iframe')
      .getAttribute('src');
    console.log(`connected: ${src}`);
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
