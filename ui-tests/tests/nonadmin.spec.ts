/**
 * A user who is not admin (`personal_admin = False`, port 8889).
 */
import { expect, test } from '@jupyterlab/galata';

import { launcherCard } from './helpers';

test.use({ mockUser: false });

test('a non-admin has the apps but no admin sidebar', async ({ page }) => {
  await expect(launcherCard(page, 'Demo Web App')).toBeVisible();
  await expect(
    page.locator('.jp-SideBar [data-id="remoteapp-sidebar"]')
  ).toBeVisible();
  const me = await (await page.request.get('/remoteapp/api/me')).json();
  expect(me.admin).toBe(false);
  await expect(
    page.locator('.jp-SideBar [data-id="remoteapp-admin"]')
  ).toHaveCount(0);
  const response = await page.request.get('/remoteapp/api/admin/users');
  expect(response.status()).toBe(403);
});
