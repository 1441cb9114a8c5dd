/**
 * App tabs and browser tabs through tickets, from the apps origin (Lab on
 * localhost:8888, apps on 127.0.0.1:8888); an admin opens another user's app
 * (the server on 8889 is the accounting user `uitest-other`); a Lab reached
 * by a name without a second origin warns (admin: port 8888).
 */
import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext, Page } from '@playwright/test';

import {
  API,
  callAPI,
  CONTAINER_TIMEOUT,
  closeAndStop,
  dockTab,
  launcherCard,
  listContainers,
  openSidePanel,
  recordWorkspaceSaves,
  stopAll,
  waitForLayoutSaved
} from './helpers';

test.use({ mockUser: false });
test.describe.configure({ mode: 'serial' });

const WEBAPP = 'remoteapp/demo-webapp:latest';
const VNC = 'remoteapp/demo-vnc:latest';
/** The non-admin server of the UI tests, another accounting user. */
const OTHER_URL = 'http://localhost:8889';
/** The Lab by a name that has no second loopback name (Chromium resolves it). */
const UNISOLATED_URL = 'http://lab.localhost:8888';

test.beforeEach(({ page }) => {
  recordWorkspaceSaves(page);
});

test.afterEach(async ({ page }) => {
  await stopAll(page);
});

async function whoami(page: Page): Promise<any> {
  return (await page.request.get(`${API}/me`)).json();
}

/** Start an app of the caller of `request` through the REST API. */
async function startThroughAPI(
  request: APIRequestContext,
  image: string,
  configurables: Record<string, string> = {}
): Promise<any> {
  const entries = await callAPI(request, 'GET', 'applications');
  const entry = entries.find((e: any) => e.image.name === image);
  expect(entry, `${image} is granted`).toBeTruthy();
  return callAPI(request, 'POST', 'containers', {
    mapping_id: entry.mapping_id,
    configurables
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('an app tab loads its app from the apps origin through a ticket', async ({
  page
}) => {
  const me = await whoami(page);
  expect(me.apps_isolated).toBe(true);
  expect(me.apps_origin).toBe('http://127.0.0.1:8888');
  const tickets: string[] = [];
  page.on('request', request => {
    if (request.method() === 'POST' && /\/ticket(\?|$)/.test(request.url())) {
      tickets.push(request.url());
    }
  });

  await launcherCard(page, 'Demo Web App').click();
  const frame = page.frameLocator('.jp-RemoteApp-tab iframe');
  await expect(frame.locator('h1')).toHaveText('remoteapp demo web app', {
    timeout: CONTAINER_TIMEOUT
  });
  const [container] = await listContainers(page);
  // The API's URL is absolute, on the apps origin.
  expect(container.url).toMatch(
    new RegExp(`^${escapeRegExp(me.apps_origin)}/remoteapp/containers/`)
  );
  // The iframe got a ticket URL; its redirect landed on the app's URL.
  const iframe = page.locator('.jp-RemoteApp-tab iframe');
  expect(await iframe.getAttribute('src')).toMatch(
    new RegExp(`^${escapeRegExp(me.apps_origin)}/remoteapp/apps-session\\?`)
  );
  expect(page.frames().some(f => f.url() === container.url)).toBe(true);
  expect(tickets).toHaveLength(1);
  await expect(page.locator('.jp-RemoteApp-warning')).toHaveCount(0);

  // Reload: a fresh ticket (they are single-use).
  await page
    .locator('.jp-RemoteApp-tab .jp-Toolbar [title="Reload the application"]')
    .click();
  await expect.poll(() => tickets.length).toBe(2);
  await expect(frame.locator('h1')).toHaveText('remoteapp demo web app', {
    timeout: CONTAINER_TIMEOUT
  });
  await closeAndStop(page, 'Demo Web App');
});

test('open in a browser tab: a fresh ticket, then the app, cut off from the Lab', async ({
  page,
  context
}) => {
  const web = await startThroughAPI(page.request, WEBAPP);
  const vnc = await startThroughAPI(page.request, VNC, {
    resolution: '1024x768'
  });
  for (const container of [web, vnc]) {
    const popup = context.waitForEvent('page');
    await page.evaluate(
      id =>
        (window as any).jupyterapp.commands.execute(
          'remoteapp:open-in-browser-tab',
          { url_id: id }
        ),
      container.url_id
    );
    const tab = await popup;
    if (container.type === 'vncapp') {
      // The desktop goes on to noVNC's page on the apps origin.
      await expect(tab.locator('#noVNC_status')).toContainText('Connected', {
        timeout: CONTAINER_TIMEOUT
      });
      expect(tab.url()).toContain(`${container.url}vnc.html?`);
    } else {
      await expect(tab.locator('h1')).toHaveText('remoteapp demo web app', {
        timeout: CONTAINER_TIMEOUT
      });
      expect(tab.url()).toBe(container.url);
    }
    expect(await tab.evaluate(() => window.opener)).toBeNull();
    await tab.close();
  }
});

test("an admin opens another user's app from the admin sidebar", async ({
  page,
  playwright
}) => {
  const other = await playwright.request.newContext({ baseURL: OTHER_URL });
  let urlId = '';
  try {
    const owner = (await callAPI(other, 'GET', 'me')).name;
    expect(owner).not.toBe((await whoami(page)).name);
    const started = await startThroughAPI(other, WEBAPP);
    urlId = started.url_id;

    await openSidePanel(page, 'remoteapp-admin');
    const admin = page.locator('#remoteapp-admin');
    await admin.getByRole('button', { name: 'Refresh', exact: true }).click();
    const row = admin.locator(
      `.jp-RemoteApp-allContainers [data-url-id="${urlId}"]`
    );
    await expect(row).toContainText(owner);
    await row
      .getByRole('button', { name: `Open Demo Web App of ${owner}` })
      .click();

    const label = `Demo Web App (${owner})`;
    await expect(dockTab(page, label)).toBeVisible();
    const frame = page.frameLocator(`#remoteapp-admin-${urlId} iframe`);
    await expect(frame.locator('h1')).toHaveText('remoteapp demo web app', {
      timeout: CONTAINER_TIMEOUT
    });
    // It is not the admin's own app.
    expect(await listContainers(page)).toHaveLength(0);

    // The tab comes back after a reload (with a fresh admin's ticket).
    await waitForLayoutSaved(page, urlId);
    await page.reload({ waitForIsReady: false });
    await expect(
      page.frameLocator(`#remoteapp-admin-${urlId} iframe`).locator('h1')
    ).toHaveText('remoteapp demo web app', { timeout: CONTAINER_TIMEOUT });

    // Closing the tab does not stop someone else's app (and asks nothing).
    await dockTab(page, label).locator('.lm-TabBar-tabCloseIcon').click();
    await expect(dockTab(page, label)).toHaveCount(0);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    const theirs = await callAPI(other, 'GET', 'containers');
    expect(theirs.map((c: any) => c.url_id)).toContain(urlId);
  } finally {
    if (urlId) {
      await callAPI(
        other,
        'DELETE',
        `containers/${urlId}`,
        undefined,
        [204, 404]
      );
    }
    await other.dispose();
  }
});

test('a Lab without a second origin for apps shows a warning naming the setting', async ({
  browser
}) => {
  const context = await browser.newContext();
  const lab = await context.newPage();
  try {
    await lab.goto(`${UNISOLATED_URL}/lab`);
    const me = await (
      await lab.request.get(`${UNISOLATED_URL}${API}/me`)
    ).json();
    expect(me.apps_isolated).toBe(false);
    expect(me.apps_origin).toBeNull();

    await launcherCard(lab as any, 'Demo Web App').click();
    const warning = lab.locator('.jp-RemoteApp-tab .jp-RemoteApp-warning');
    await expect(warning).toContainText('c.RemoteApp.apps_url', {
      timeout: CONTAINER_TIMEOUT
    });
    // Once as a notification too.
    await expect(
      lab.locator('.Toastify__toast', { hasText: 'c.RemoteApp.apps_url' })
    ).toHaveCount(1);
    // The app still works, on the Lab's origin.
    await expect(
      lab.frameLocator('.jp-RemoteApp-tab iframe').locator('h1')
    ).toHaveText('remoteapp demo web app', { timeout: CONTAINER_TIMEOUT });
  } finally {
    await context.close();
  }
});
