/**
 * Startup data: an image whose labels declare `env.startupdata`, registered and
 * granted (startup data allowed) in the admin sidebar; the path typed in the
 * start dialog is checked, and reaches the container as STARTUPDATA: the app
 * serves it back through the proxy (admin: port 8888).
 */
import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

import {
  API,
  CONTAINER_TIMEOUT,
  apiContext,
  buildDerivedImage,
  callAPI,
  dockTab,
  launcherCard,
  listContainers,
  openSidePanel,
  removeImage,
  stopAll
} from './helpers';

test.use({ mockUser: false });

const TAG = 'remoteapp-uitest/startupdata:latest';
const UI_NAME = 'Startup Data App';
const NS = 'eu.simphony-project.docker.';

/**
 * The demo web app, plus: the startupdata label, and a start command that
 * writes $STARTUPDATA to `startupdata.txt` under the app's URL prefix.
 */
const LINES = [
  `LABEL ${NS}ui_name="${UI_NAME}" ${NS}env.startupdata=""`,
  'CMD ["/bin/sh", "-c", "d=\\"/www${JPY_BASE_USER_URL%/}/containers/${URL_ID}\\" && mkdir -p \\"$d\\" && printf \'%s\' \\"${STARTUPDATA:-}\\" > \\"$d/startupdata.txt\\" && exec /usr/local/bin/remoteapp-webapp-start"]'
];

let api: APIRequestContext;

async function unregister(): Promise<void> {
  await callAPI(
    api,
    'DELETE',
    `admin/applications/${encodeURIComponent(TAG)}`,
    undefined,
    [204, 404]
  );
}

test.beforeAll(async ({ playwright }, testInfo) => {
  api = await apiContext(playwright, testInfo);
  await unregister(); // leftovers of an interrupted run
  buildDerivedImage(TAG, LINES);
});

test.afterEach(async ({ page }) => {
  await stopAll(page);
});

test.afterAll(async () => {
  await unregister();
  await api.dispose();
  removeImage(TAG);
});

test('the startup data typed at start reaches the container', async ({
  page
}) => {
  await openSidePanel(page, 'remoteapp-admin');
  const admin = page.locator('#remoteapp-admin');

  // Register the image, then grant it with startup data allowed.
  const register = admin.locator('.jp-RemoteApp-applicationsAdmin');
  await register.getByLabel('Image to register').selectOption(TAG);
  await register.getByRole('button', { name: 'Register' }).click();
  await expect(
    register.locator('.jp-RemoteApp-item', { hasText: UI_NAME })
  ).toHaveCount(1);
  const form = admin.locator('.jp-RemoteApp-grantForm');
  await form.getByLabel('Application to grant').selectOption(TAG);
  const me = await (await page.request.get(`${API}/me`)).json();
  await expect(form.getByLabel('User or group name')).toHaveValue(me.name);
  await form.getByLabel('Allow startup data').check();
  await form.getByRole('button', { name: 'Grant' }).click();
  // The grant shows in the list and in the launcher, without a reload.
  await expect(
    admin.locator('.jp-RemoteApp-grants .jp-RemoteApp-item', {
      hasText: TAG
    })
  ).toContainText('startup data');
  await expect(launcherCard(page, UI_NAME)).toBeVisible({ timeout: 15000 });
  const grants = await callAPI(
    api,
    'GET',
    `admin/grants?image=${encodeURIComponent(TAG)}`
  );
  expect(grants.items).toHaveLength(1);
  expect(grants.items[0].policy.allow_startup_data).toBe(true);

  // The start dialog asks for the startup data (and no resolution: a web app).
  await launcherCard(page, UI_NAME).click();
  const dialog = page.locator('.jp-Dialog');
  const field = dialog.getByLabel('Startup data');
  await expect(field).toBeVisible();
  await expect(dialog.locator('select.jp-RemoteApp-resolution')).toHaveCount(0);

  // A path outside the home is refused before any request, and kept.
  await field.fill('../outside.csv');
  await dialog.getByRole('button', { name: 'Start' }).click();
  await expect(dialog.locator('.jp-RemoteApp-formError')).toContainText(
    'relative to your home'
  );
  await expect(dialog.getByLabel('Startup data')).toHaveValue('../outside.csv');
  expect(await listContainers(page)).toHaveLength(0);

  const path = 'data/input file.csv';
  await dialog.getByLabel('Startup data').fill(path);
  await dialog.getByRole('button', { name: 'Start' }).click();
  await expect(dockTab(page, UI_NAME)).toBeVisible({ timeout: CONTAINER_TIMEOUT });

  // The container got it: its app serves $STARTUPDATA through the proxy.
  const [container] = await listContainers(page);
  expect(container.image).toBe(TAG);
  const response = await page.request.get(`${container.url}startupdata.txt`);
  expect(response.status()).toBe(200);
  expect(await response.text()).toBe(path);
  // And the app itself runs in the tab.
  await expect(
    page.frameLocator('.jp-RemoteApp-tab iframe').locator('h1')
  ).toHaveText('remoteapp demo web app', { timeout: CONTAINER_TIMEOUT });
});
