/**
 * Helpers shared by the remoteapp UI tests.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import type {
  APIRequestContext,
  Page,
  PlaywrightWorkerArgs,
  TestInfo
} from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

/** The API path of the server extension, below the base URL. */
export const API = '/remoteapp/api';

/**
 * How long to wait for what needs a container (a start, a page of the app, noVNC
 * connecting). Seconds when the machine is idle; on 2 cores shared with other
 * docker-heavy work it can take much longer, and the waits end as soon as the
 * condition holds.
 */
export const CONTAINER_TIMEOUT = 90000;

/**
 * The containers of the user, from the real server.
 */
export async function listContainers(
  page: IJupyterLabPageFixture
): Promise<{ url_id: string; ui_name: string; url: string; image: string }[]> {
  const response = await page.request.get(`${API}/containers`);
  expect(response.ok()).toBeTruthy();
  return response.json();
}

/**
 * Stop every container of the user (keeps the tests independent).
 */
export async function stopAll(page: IJupyterLabPageFixture): Promise<void> {
  for (const container of await listContainers(page)) {
    await page.request.delete(`${API}/containers/${container.url_id}`);
  }
}

/**
 * Attach a screenshot to the report; with REMOTEAPP_DOCS_SCREENSHOTS=1 also
 * write it to docs/screenshots/ (the README shows those).
 */
export async function screenshot(
  page: IJupyterLabPageFixture,
  testInfo: TestInfo,
  name: string,
  options: { docs?: boolean } = {}
): Promise<void> {
  const body = await page.screenshot();
  await testInfo.attach(name, { body, contentType: 'image/png' });
  if (
    options.docs !== false &&
    process.env.REMOTEAPP_DOCS_SCREENSHOTS === '1'
  ) {
    const file = path.resolve(
      __dirname,
      '..',
      '..',
      'docs',
      'screenshots',
      name
    );
    require('fs').writeFileSync(file, body);
  }
}

/**
 * The launcher card of an application.
 */
export function launcherCard(page: IJupyterLabPageFixture, uiName: string) {
  return page.locator('.jp-LauncherCard', {
    has: page.locator('.jp-LauncherCard-label', { hasText: uiName })
  });
}

/**
 * The Lab tab (in the main dock panel) with `label`.
 */
export function dockTab(page: IJupyterLabPageFixture, label: string) {
  return page.locator('#jp-main-dock-panel .lm-TabBar-tab', {
    hasText: label
  });
}

/**
 * Close an application tab and choose "Stop" in the dialog.
 */
export async function closeAndStop(
  page: IJupyterLabPageFixture,
  label: string
): Promise<void> {
  await dockTab(page, label).locator('.lm-TabBar-tabCloseIcon').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Stop the application');
  await dialog.getByRole('button', { name: 'Stop' }).click();
  await expect(dockTab(page, label)).toHaveCount(0);
}

/** The workspace saves (PUT bodies) each page sent, recorded from the start. */
const workspaceSaves = new WeakMap<Page, string[]>();

/**
 * Record the workspace saves of `page` (call it before the layout changes).
 */
export function recordWorkspaceSaves(page: Page): void {
  const saves: string[] = [];
  workspaceSaves.set(page, saves);
  page.on('request', request => {
    if (
      request.method() === 'PUT' &&
      /\/api\/workspaces\//.test(request.url())
    ) {
      saves.push(request.postData() ?? '');
    }
  });
}

/**
 * Wait until JupyterLab has saved a workspace that restores the tab of
 * `urlId` (the save is debounced: a reload before it would lose the tab),
 * with every text of `also` in the same save.
 */
export async function waitForLayoutSaved(
  page: IJupyterLabPageFixture,
  urlId: string,
  also: string[] = []
): Promise<void> {
  const saves = workspaceSaves.get(page);
  if (!saves) {
    throw new Error('call recordWorkspaceSaves(page) first');
  }
  await expect
    .poll(
      () =>
        saves.some(
          body =>
            body.includes(`remoteapp:${urlId}`) &&
            also.every(text => body.includes(text))
        ),
      {
        message: `a workspace save with the tab of ${urlId}`,
        timeout: 15000
      }
    )
    .toBe(true);
}

/**
 * A request context to the REST API of the server of the test's project, as
 * the server's owner (the UI test servers have an empty token).
 */
export async function apiContext(
  playwright: PlaywrightWorkerArgs['playwright'],
  testInfo: TestInfo
): Promise<APIRequestContext> {
  const token = process.env.REMOTEAPP_UITEST_TOKEN ?? '';
  return playwright.request.newContext({
    baseURL: testInfo.project.use.baseURL,
    extraHTTPHeaders: token ? { Authorization: `token ${token}` } : {}
  });
}

/**
 * Call the API and check the status; returns the JSON body (or null).
 */
export async function callAPI(
  request: APIRequestContext,
  method: 'GET' | 'POST' | 'DELETE',
  endPoint: string,
  data?: unknown,
  expected: number[] = [200, 201, 204]
): Promise<any> {
  const response = await request.fetch(`${API}/${endPoint}`, {
    method,
    data
  });
  if (!expected.includes(response.status())) {
    throw new Error(
      `${method} ${endPoint}: ${response.status()} ${await response.text()}`
    );
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Run `tasks` with at most `width` of them at a time.
 */
export async function inBatches<T>(
  items: T[],
  width: number,
  task: (item: T) => Promise<unknown>
): Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(task));
  }
}

/**
 * Build a tiny image `FROM remoteapp/demo-webapp:latest` with extra Dockerfile
 * lines (legacy builder, no context: well under a second). Returns the tag.
 */
export function buildDerivedImage(tag: string, lines: string[]): string {
  const dockerfile = ['FROM remoteapp/demo-webapp:latest', ...lines, ''].join(
    '\n'
  );
  execFileSync('docker', ['build', '-q', '-t', tag, '-'], {
    input: dockerfile,
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    stdio: ['pipe', 'ignore', 'pipe']
  });
  return tag;
}

/**
 * Remove a docker image (no error when it is gone already).
 */
export function removeImage(tag: string): void {
  try {
    execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  } catch {
    // gone already
  }
}

/**
 * Open a side panel by its id (no-op when it is open already).
 */
export async function openSidePanel(
  page: IJupyterLabPageFixture,
  id: string
): Promise<void> {
  const tab = page.locator(`.jp-SideBar [data-id="${id}"]`);
  if ((await tab.getAttribute('aria-selected')) !== 'true') {
    await tab.click();
  }
  await expect(page.locator(`#${id}`)).toBeVisible();
}

/**
 * Wait until the noVNC page in `page` (a browser tab) says "Connected".
 *
 * Docker work elsewhere on the machine makes Chromium see network changes and
 * abort requests in flight (`net::ERR_NETWORK_CHANGED`); when one of noVNC's
 * modules is lost that way the page never starts. Such a page is reloaded (as
 * a user would), at most twice; the aborted requests are logged.
 */
export async function expectNoVNCConnected(page: Page): Promise<void> {
  const aborted: string[] = [];
  page.on('requestfailed', request => {
    if (request.failure()?.errorText === 'net::ERR_NETWORK_CHANGED') {
      aborted.push(request.url());
    }
  });
  const status = page.locator('#noVNC_status');
  for (let attempt = 0; ; attempt++) {
    try {
      await expect(status).toContainText('Connected', {
        timeout: attempt < 2 ? 30000 : CONTAINER_TIMEOUT
      });
      return;
    } catch (error) {
      if (attempt >= 2 || aborted.length === 0) {
        throw error;
      }
      console.warn(`noVNC page reloaded after aborted requests: ${aborted}`);
      aborted.length = 0;
      await page.reload();
    }
  }
}
