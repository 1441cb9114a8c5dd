/**
 * The admin lists at scale: 120 users and 130 grants seeded through the REST
 * API, paged 50 at a time in the admin sidebar, the grant filter, and lists
 * that stay fresh after changes (admin: port 8888).
 */
import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';

import {
  apiContext,
  callAPI,
  inBatches,
  openSidePanel,
  screenshot
} from './helpers';

test.use({ mockUser: false });
test.describe.configure({ mode: 'serial' });

const WEBAPP = 'remoteapp/demo-webapp:latest';
const VNC = 'remoteapp/demo-vnc:latest';
const PREFIX = 'uitest-page-';
/** 120 users; each has the web app, the first 10 also the desktop: 130 grants. */
const NAMES = Array.from(
  { length: 120 },
  (_, i) => `${PREFIX}${String(i).padStart(3, '0')}`
);
const CREATED = `${PREFIX}created`;
const PAGE = 50;

let api: APIRequestContext;

async function removeSeeded(): Promise<void> {
  await inBatches([...NAMES, CREATED], 10, name =>
    callAPI(
      api,
      'DELETE',
      `admin/users/${encodeURIComponent(name)}`,
      undefined,
      [204, 404]
    )
  );
}

/** The `total` of an admin listing, from the server. */
async function total(endPoint: string): Promise<number> {
  const separator = endPoint.includes('?') ? '&' : '?';
  return (await callAPI(api, 'GET', `${endPoint}${separator}limit=1`)).total;
}

test.beforeAll(async ({ playwright }, testInfo) => {
  api = await apiContext(playwright, testInfo);
  await removeSeeded(); // leftovers of an interrupted run
  await inBatches(NAMES, 10, name =>
    callAPI(api, 'POST', 'admin/users', { name })
  );
  await inBatches(NAMES, 10, user =>
    callAPI(api, 'POST', 'admin/grants', { image: WEBAPP, user })
  );
  await inBatches(NAMES.slice(0, 10), 10, user =>
    callAPI(api, 'POST', 'admin/grants', { image: VNC, user })
  );
});

test.afterAll(async () => {
  await removeSeeded();
  await api.dispose();
});

function summary(section: Locator): Locator {
  return section.locator('.jp-RemoteApp-pageSummary');
}

test('users and grants page 50 at a time; grants filter by user and image', async ({
  page
}, testInfo) => {
  const users = await total('admin/users');
  const grants = await total('admin/grants');
  expect(users).toBeGreaterThanOrEqual(120);
  expect(grants).toBeGreaterThanOrEqual(130);

  await openSidePanel(page, 'remoteapp-admin');
  const admin = page.locator('#remoteapp-admin');
  const usersSection = admin.locator('.jp-RemoteApp-users');
  await expect(summary(usersSection)).toHaveText(`Showing 1–50 of ${users}`);
  await expect(usersSection.locator('.jp-RemoteApp-item')).toHaveCount(PAGE);
  await expect(usersSection.locator('.jp-RemoteApp-count')).toHaveText(
    String(users)
  );
  await expect(
    usersSection.getByRole('button', { name: 'Previous page' })
  ).toBeDisabled();
  await screenshot(page, testInfo, 'admin.png');

  const next = usersSection.getByRole('button', { name: 'Next page' });
  await next.click();
  await expect(summary(usersSection)).toHaveText(`Showing 51–100 of ${users}`);
  await next.click();
  await expect(summary(usersSection)).toHaveText(
    `Showing 101–${Math.min(users, 150)} of ${users}`
  );
  await usersSection.getByRole('button', { name: 'Previous page' }).click();
  await expect(summary(usersSection)).toHaveText(`Showing 51–100 of ${users}`);

  const grantsSection = admin.locator('.jp-RemoteApp-grants');
  const grantItems = grantsSection.locator('.jp-RemoteApp-item');
  await expect(summary(grantsSection)).toHaveText(`Showing 1–50 of ${grants}`);
  await expect(grantItems).toHaveCount(PAGE);

  // By user: typed, the list follows once the typing stops.
  const byName = grantsSection.getByLabel('Filter grants by exact name');
  await byName.fill(NAMES[3]);
  await expect(summary(grantsSection)).toHaveText('Showing 1–2 of 2');
  await expect(grantItems).toHaveCount(2);
  await expect(grantItems.first()).toContainText(`user ${NAMES[3]}`);
  await grantsSection.evaluate(node => node.scrollIntoView({ block: 'start' }));
  await screenshot(page, testInfo, 'admin-grants.png');
  // And by image.
  await grantsSection
    .getByLabel('Filter grants by application')
    .selectOption(VNC);
  await expect(summary(grantsSection)).toHaveText('Showing 1–1 of 1');
  await expect(grantItems).toHaveCount(1);
  await expect(grantItems.first()).toContainText(VNC);
  // Only the image.
  await byName.fill('');
  const vncGrants = await total(
    `admin/grants?image=${encodeURIComponent(VNC)}`
  );
  await expect(summary(grantsSection)).toHaveText(
    `Showing 1–${vncGrants} of ${vncGrants}`
  );
  // An unknown user has no grants.
  await byName.fill('nobody-has-this-name');
  await expect(grantsSection.locator('.jp-RemoteApp-empty')).toHaveText(
    'No grant matches the filter.'
  );
  await grantsSection
    .getByRole('button', { name: 'Clear the grant filter' })
    .click();
  await expect(byName).toHaveValue('');
  await expect(summary(grantsSection)).toHaveText(`Showing 1–50 of ${grants}`);

  // A user's grant count shows that user's grants.
  const seventy = NAMES[70];
  await usersSection
    .getByRole('button', { name: `Show the grants of ${seventy}` })
    .click();
  await expect(byName).toHaveValue(seventy);
  await expect(summary(grantsSection)).toHaveText('Showing 1–1 of 1');
  await expect(grantItems.first()).toContainText(`user ${seventy}`);
});

test('lists are fresh after changes; an emptied last page goes back one', async ({
  page
}) => {
  await openSidePanel(page, 'remoteapp-admin');
  const admin = page.locator('#remoteapp-admin');
  const usersSection = admin.locator('.jp-RemoteApp-users');
  const grantsSection = admin.locator('.jp-RemoteApp-grants');

  // Revoke in a filtered list: the list and the user's count follow.
  await grantsSection.getByLabel('Filter grants by exact name').fill(NAMES[10]);
  await expect(summary(grantsSection)).toHaveText('Showing 1–1 of 1');
  await grantsSection
    .getByRole('button', { name: `Revoke ${WEBAPP} from user ${NAMES[10]}` })
    .click();
  await expect(grantsSection.locator('.jp-RemoteApp-empty')).toHaveText(
    'No grant matches the filter.'
  );
  await expect(
    usersSection.getByRole('button', {
      name: `Show the grants of ${NAMES[10]}`
    })
  ).toHaveText('0 grants');

  // Leave exactly one user on the last page (removed behind the panel's back).
  const users = await total('admin/users');
  const lastOffset = Math.floor((users - 1) / PAGE) * PAGE;
  const lastPage = await callAPI(
    api,
    'GET',
    `admin/users?offset=${lastOffset}&limit=${PAGE}`
  );
  const names: string[] = lastPage.items.map((u: { name: string }) => u.name);
  expect(names.every(name => name.startsWith(PREFIX))).toBe(true);
  for (const name of names.slice(1)) {
    await callAPI(api, 'DELETE', `admin/users/${encodeURIComponent(name)}`);
  }
  const remaining = lastOffset + 1;
  await admin.getByRole('button', { name: 'Refresh', exact: true }).click();
  await expect(summary(usersSection)).toHaveText(
    `Showing 1–50 of ${remaining}`
  );
  // To the last page (the buttons are disabled while a page loads: wait for each).
  const next = usersSection.getByRole('button', { name: 'Next page' });
  for (let offset = PAGE; offset <= lastOffset; offset += PAGE) {
    await next.click();
    await expect(summary(usersSection)).toContainText(`Showing ${offset + 1}–`);
  }
  await expect(summary(usersSection)).toHaveText(
    `Showing ${remaining}–${remaining} of ${remaining}`
  );

  // Removing that user (after a confirmation) goes back one page.
  await usersSection
    .getByRole('button', { name: `Remove the user ${names[0]}` })
    .click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(`Remove ${names[0]}?`);
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(summary(usersSection)).toHaveText(
    `Showing ${lastOffset - PAGE + 1}–${lastOffset} of ${lastOffset}`
  );
  await expect(usersSection.locator('.jp-RemoteApp-count')).toHaveText(
    String(lastOffset)
  );

  // A created user counts at once.
  await usersSection.getByLabel('New user name').fill(CREATED);
  await usersSection.getByRole('button', { name: 'Create' }).click();
  await expect(usersSection.getByLabel('New user name')).toHaveValue('');
  await expect(usersSection.locator('.jp-RemoteApp-count')).toHaveText(
    String(lastOffset + 1)
  );
  // The server says the same.
  expect(await total('admin/users')).toBe(lastOffset + 1);
});
