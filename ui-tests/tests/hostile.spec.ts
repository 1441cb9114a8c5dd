/**
 * A hostile app in a Lab tab (personal mode). The Lab is on localhost:8890 and
 * needs its token and checks XSRF, as a real one does; apps are on the other
 * loopback name, 127.0.0.1:8890. The app's page (tests/hostile/attack.js)
 * tries against the Lab's origin and its own: reading `_xsrf`, fetch with
 * credentials (read and PUT a file, start a kernel), no-cors and form POSTs,
 * framing /lab and reading it, WebSockets to /api/events/subscribe and a
 * kernel's channels; it writes what happened into its DOM. Whether a request
 * that left did anything is checked on the server, through the Lab's API.
 *
 * The second test shows that the same script gets in where it shares an
 * origin with a logged-in Lab (the residual risk SECURITY.md names: a user who
 * opens Lab under both loopback names): the attacks are real, the isolation
 * is what stops them.
 */
import { expect, test as base } from '@jupyterlab/galata';
import type { APIRequestContext, Frame, Page } from '@playwright/test';

import { callAPI, CONTAINER_TIMEOUT, launcherCard } from './helpers';

const TOKEN = process.env.REMOTEAPP_UITEST_SECURE_TOKEN!;
const LAB = 'http://localhost:8890';
const APPS = 'http://127.0.0.1:8890';
const HOSTILE = 'Hostile App';

/** The Lab's API with the token: a context of its own, not the browser's. */
const test = base.extend<{ request: APIRequestContext }>({
  request: async ({ playwright, baseURL }, use) => {
    const request = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `token ${TOKEN}` }
    });
    await use(request);
    await request.dispose();
  }
});
test.use({ autoGoto: false });
test.describe.configure({ mode: 'serial' });

interface IOutcome {
  target: string;
  attack: string;
  outcome: 'succeeded' | 'blocked' | 'sent';
  detail: string;
}

/** Jupyter's own API (not remoteapp's), with the token. */
async function jupyter(
  request: APIRequestContext,
  method: 'GET' | 'DELETE',
  path: string
): Promise<any> {
  const response = await request.fetch(`/api/${path}`, { method });
  expect(response.ok(), `${method} /api/${path}`).toBe(true);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** What the server has that the attacks would change: root files, kernels. */
async function serverState(request: APIRequestContext) {
  const root = await jupyter(request, 'GET', 'contents');
  const kernels = await jupyter(request, 'GET', 'kernels');
  return {
    files: (root.content as any[]).map(item => item.name).sort(),
    kernels: (kernels as any[]).map(kernel => kernel.id).sort()
  };
}

async function stopAll(request: APIRequestContext): Promise<void> {
  for (const container of await callAPI(request, 'GET', 'containers')) {
    await callAPI(request, 'DELETE', `containers/${container.url_id}`);
  }
}

async function openLab(page: Page): Promise<void> {
  await page.goto(`${LAB}/lab?token=${TOKEN}`);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await expect(launcherCard(page as any, HOSTILE)).toBeVisible();
}

/** The outcomes the hostile page wrote, once it is done. */
async function outcomes(frame: Frame | ReturnType<Page['frameLocator']>) {
  await expect(frame.locator('#done')).toHaveText('done', {
    timeout: CONTAINER_TIMEOUT
  });
  return JSON.parse(
    (await frame.locator('#results').textContent()) ?? '[]'
  ) as IOutcome[];
}

test.afterEach(async ({ request }) => {
  await stopAll(request);
});

test('a hostile app in a Lab tab cannot act as its user', async ({
  page,
  request
}, testInfo) => {
  const before = await serverState(request);
  await openLab(page);
  const me = await (await page.request.get('/remoteapp/api/me')).json();
  expect([me.apps_origin, me.apps_isolated]).toEqual([APPS, true]);

  await launcherCard(page as any, HOSTILE).click();
  const frame = page.frameLocator('.jp-RemoteApp-tab iframe');
  const results = await outcomes(frame);
  console.log(
    results.map(r => `${r.outcome} ${r.target} ${r.attack}: ${r.detail}`).join('\n')
  );
  await testInfo.attach('outcomes.json', {
    body: JSON.stringify(results, null, 1),
    contentType: 'application/json'
  });
  await testInfo.attach('hostile-tab.png', {
    body: await page.screenshot(),
    contentType: 'image/png'
  });
  // it ran where it should: on the apps origin, framed by the Lab
  expect(
    page.frames().some(f => f.url().startsWith(`${APPS}/remoteapp/containers/`))
  ).toBe(true);
  // every attack on both origins was tried, and none got anywhere
  const tried = new Set(results.map(r => `${r.target} ${r.attack}`));
  for (const target of [LAB, APPS]) {
    for (const attack of [
      'fetch-read-contents',
      'fetch-put-file',
      'no-cors-post-file',
      'fetch-start-kernel',
      'no-cors-start-kernel',
      'form-post-file',
      'frame-lab',
      'websocket /api/events/subscribe',
      'websocket /api/kernels/<id>/channels'
    ]) {
      expect(tried, `${target} ${attack}`).toContain(`${target} ${attack}`);
    }
  }
  expect(tried).toContain(`${APPS} read-cookie`);
  expect(tried).toContain(`${APPS} credentials-reaching-app`);
  expect(results.filter(r => r.outcome === 'succeeded')).toEqual([]);
  // what left the page did nothing: no file in the server root, no kernel
  const after = await serverState(request);
  expect(after).toEqual(before);
  expect(after.files.filter(name => /^(hostile-put|untitled)/.test(name))).toEqual([]);

  // a normal app still works in its tab, beside the hostile one
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('launcher:create')
  );
  await launcherCard(page as any, 'Demo Web App').last().click();
  const demo = page.frameLocator(
    '.jp-RemoteApp-tab:not(.lm-mod-hidden) iframe'
  );
  await expect(demo.locator('h1')).toHaveText('remoteapp demo web app', {
    timeout: CONTAINER_TIMEOUT
  });
});

test('the same script gets in where it shares the origin of a logged-in Lab', async ({
  page,
  context,
  request
}) => {
  // the residual risk: the user also opened JupyterLab on the apps origin...
  await page.goto(`${APPS}/lab?token=${TOKEN}`);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  // ...and the hostile app at the top level there (through a ticket of the Lab on
  // localhost; as a top-level page it is no longer framed by anything)
  const entries = await callAPI(request, 'GET', 'applications');
  const entry = entries.find((e: any) => e.image.ui_name === HOSTILE);
  const container = await callAPI(request, 'POST', 'containers', {
    mapping_id: entry.mapping_id
  });
  const ticket = await callAPI(
    request,
    'POST',
    `containers/${container.url_id}/ticket`
  );
  expect(ticket.url.startsWith(`${APPS}/remoteapp/apps-session?`)).toBe(true);
  const app = await context.newPage();
  await app.goto(ticket.url);
  expect(app.url()).toBe(container.url);
  const results = await outcomes(app.mainFrame());
  console.log(
    results.map(r => `${r.outcome} ${r.target} ${r.attack}`).join('\n')
  );
  const got = results
    .filter(r => r.outcome === 'succeeded')
    .map(r => `${r.target} ${r.attack}`);
  // against its own origin, where the Lab's cookies are, it gets in...
  for (const attack of [
    'read-cookie',
    'fetch-read-contents',
    'fetch-put-file',
    'fetch-start-kernel',
    'websocket /api/events/subscribe'
  ]) {
    expect(got).toContain(`${APPS} ${attack}`);
  }
  // ...but still not into the Lab on the other name, nor do credentials reach it
  expect(got.filter(g => g.startsWith(`${LAB} `))).toEqual([]);
  expect(got).not.toContain(`${APPS} credentials-reaching-app`);
  // clean up what it did
  const state = await serverState(request);
  for (const name of state.files.filter(n => /^(hostile-put|untitled)/.test(n))) {
    await jupyter(request, 'DELETE', `contents/${name}`);
  }
  for (const id of state.kernels) {
    await jupyter(request, 'DELETE', `kernels/${id}`);
  }
  await app.close();
});
