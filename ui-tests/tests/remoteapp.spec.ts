/**
 * The remoteapp extension against a real JupyterLab, real docker and the
 * demo images (admin: personal mode, port 8888).
 */
import { expect, test } from '@jupyterlab/galata';

import {
  API,
  CONTAINER_TIMEOUT,
  closeAndStop,
  dockTab,
  launcherCard,
  listContainers,
  recordWorkspaceSaves,
  screenshot,
  stopAll,
  waitForLayoutSaved
} from './helpers';

/**
 * Galata mocks every URL matching `/.*\/api\/me.*\/` (JupyterLab's own
 * `/api/me`), which also catches `remoteapp/api/me`: turn that mock off so
 * the extension talks to the real server.
 */
test.use({ mockUser: false });

test.describe.configure({ mode: 'serial' });

test.beforeEach(({ page }) => {
  recordWorkspaceSaves(page);
});

test.afterEach(async ({ page }) => {
  await stopAll(page);
});

test('should emit an activation console message', async ({ page }) => {
  const logs: string[] = [];
  page.on('console', message => {
    logs.push(message.text());
  });
  await page.reload();
  await page.waitForSelector('#remoteapp-sidebar', { state: 'attached' });
  expect(logs.filter(s => s === 'remoteapp is activated')).toHaveLength(1);
});

test('the launcher shows the demo apps', async ({ page }, testInfo) => {
  const section = page.locator('.jp-Launcher-section', {
    hasText: 'Remote Apps'
  });
  await expect(launcherCard(page, 'Demo Web App')).toBeVisible();
  await expect(launcherCard(page, 'Demo Desktop')).toBeVisible();
  await expect(section.locator('.jp-LauncherCard')).toHaveCount(2);
  // The policy is in the tooltip.
  await expect(launcherCard(page, 'Demo Web App')).toHaveAttribute(
    'title',
    /Policy: isolated/
  );
  await screenshot(page, testInfo, 'launcher.png');
});

test('starting the web app opens a tab with its page; stop removes it', async ({
  page
}) => {
  await launcherCard(page, 'Demo Web App').click();
  await expect(dockTab(page, 'Demo Web App')).toBeVisible({ timeout: CONTAINER_TIMEOUT });
  const frame = page.frameLocator('.jp-RemoteApp-tab iframe');
  await expect(frame.locator('h1')).toHaveText('remoteapp demo web app', {
    timeout: CONTAINER_TIMEOUT
  });
  expect(await listContainers(page)).toHaveLength(1);

  await closeAndStop(page, 'Demo Web App');
  expect(await listContainers(page)).toHaveLength(0);
});

test('the VNC app connects in a tab, and the tab survives a reload', async ({
  page
}, testInfo) => {
  await launcherCard(page, 'Demo Desktop').click();
  // The resolution dialog: the default choice fits the tab.
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('select.jp-RemoteApp-resolution')).toHaveValue(
    'fit'
  );
  await dialog.getByRole('button', { name: 'Start' }).click();

  await expect(dockTab(page, 'Demo Desktop')).toBeVisible({ timeout: CONTAINER_TIMEOUT });
  // noVNC's RFB client runs in the Lab's page (Lab on localhost, apps on
  // 127.0.0.1: a framed vnc.html would be a third-party frame without
  // localStorage); only its WebSocket goes to the apps origin.
  const status = page.locator('.jp-RemoteApp-tab .jp-RemoteApp-rfbStatusText');
  await expect(status).toHaveText('Connected', { timeout: CONTAINER_TIMEOUT });
  await expect(
    page.locator('.jp-RemoteApp-tab .jp-RemoteApp-rfbScreen canvas')
  ).toBeVisible();
  await expect(page.locator('.jp-RemoteApp-tab iframe')).toBeHidden();
  await screenshot(page, testInfo, 'vnc-tab.png');

  const [container] = await listContainers(page);
  await waitForLayoutSaved(page, container.url_id);
  // Galata's reload waits for the launcher by default: the tab hides it.
  await page.reload({ waitForIsReady: false });
  await expect(dockTab(page, 'Demo Desktop')).toBeVisible({ timeout: CONTAINER_TIMEOUT });
  await expect(
    page.locator('.jp-RemoteApp-tab .jp-RemoteApp-rfbStatusText')
  ).toHaveText('Connected', { timeout: CONTAINER_TIMEOUT });
  await expect(
    page.locator('.jp-RemoteApp-tab .jp-RemoteApp-rfbScreen canvas')
  ).toBeVisible();

  await closeAndStop(page, 'Demo Desktop');
  expect(await listContainers(page)).toHaveLength(0);
});

test('a restored tab of a removed container shows a message', async ({
  page
}) => {
  await launcherCard(page, 'Demo Web App').click();
  await expect(
    page.frameLocator('.jp-RemoteApp-tab iframe').locator('h1')
  ).toBeVisible({ timeout: CONTAINER_TIMEOUT });
  const [container] = await listContainers(page);
  await waitForLayoutSaved(page, container.url_id);
  await stopAll(page);
  await page.reload({ waitForIsReady: false });
  await expect(page.locator('.jp-RemoteApp-gone')).toContainText(
    'not running any more',
    { timeout: CONTAINER_TIMEOUT }
  );
});

test('the sidebar lists running apps with open, logs and stop', async ({
  page
}) => {
  await launcherCard(page, 'Demo Web App').click();
  await expect(dockTab(page, 'Demo Web App')).toBeVisible({ timeout: CONTAINER_TIMEOUT });
  await page.locator('.jp-SideBar [data-id="remoteapp-sidebar"]').click();
  const running = page.locator('.jp-RemoteApp-containers .jp-RemoteApp-item');
  await expect(running).toHaveCount(1);
  await running.getByRole('button', { name: 'Logs' }).click();
  await expect(page.locator('.jp-RemoteApp-logs')).toBeVisible();
  await running.getByRole('button', { name: 'Stop' }).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Stop' })
    .click();
  await expect(running).toHaveCount(0);
  expect(await listContainers(page)).toHaveLength(0);
});

test('an admin grants an app and it appears in the launcher', async ({
  page
}, testInfo) => {
  await page.locator('.jp-SideBar [data-id="remoteapp-admin"]').click();
  const admin = page.locator('#remoteapp-admin');
  const form = admin.locator('.jp-RemoteApp-grantForm');
  await form
    .getByLabel('Application to grant')
    .selectOption('remoteapp/demo-webapp:latest');
  await form.getByLabel('Viewable by others').check();
  // The grantee is prefilled with the current user, once the server said who that is.
  const me = await (await page.request.get(`${API}/me`)).json();
  await expect(form.getByLabel('User or group name')).toHaveValue(me.name);

  // Client-side validation: a bad volume is refused before any request.
  await form.getByLabel('Volume').fill('nonsense');
  await form.getByRole('button', { name: 'Grant' }).click();
  await expect(admin.locator('.jp-RemoteApp-formError')).toContainText(
    'SOURCE:TARGET'
  );
  await form.getByLabel('Volume').fill('');
  await form.getByRole('button', { name: 'Grant' }).click();

  const grants = admin.locator('.jp-RemoteApp-grants .jp-RemoteApp-item');
  await expect(grants).toHaveCount(3);
  // The same app under a second policy is a second launcher card.
  await expect(launcherCard(page, 'Demo Web App')).toHaveCount(2, {
    timeout: 15000
  });
  await screenshot(page, testInfo, 'admin-grant.png', { docs: false });

  // Revoke it again: the card goes away without a reload.
  await grants
    .filter({ hasText: 'viewable by others' })
    .getByRole('button', { name: 'Revoke' })
    .click();
  await expect(grants).toHaveCount(2);
  await expect(launcherCard(page, 'Demo Web App')).toHaveCount(1, {
    timeout: 15000
  });
});

test('the dark theme renders', async ({ page }, testInfo) => {
  await page.theme.setDarkTheme();
  await page.locator('.jp-SideBar [data-id="remoteapp-sidebar"]').click();
  await expect(page.locator('#remoteapp-sidebar')).toBeVisible();
  const background = await page
    .locator('#remoteapp-sidebar .jp-RemoteApp-sidebar')
    .evaluate(node => getComputedStyle(node.parentElement!).backgroundColor);
  const layout = await page.evaluate(() =>
    getComputedStyle(document.body)
      .getPropertyValue('--jp-layout-color1')
      .trim()
  );
  expect(layout.toLowerCase()).toBe('#212121');
  // A dark background: every channel below 80.
  const channels = background.match(/\d+/g)!.slice(0, 3).map(Number);
  expect(Math.max(...channels)).toBeLessThan(80);
  await screenshot(page, testInfo, 'dark-theme.png');
  await page.theme.setLightTheme();
});
