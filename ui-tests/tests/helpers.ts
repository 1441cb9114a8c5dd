/**
 * Helpers shared by the remoteapp UI tests.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { TestInfo } from '@playwright/test';
import * as path from 'path';

/** The API path of the server extension, below the base URL. */
export const API = '/remoteapp/api';

/**
 * The containers of the user, from the real server.
 */
export async function listContainers(
  page: IJupyterLabPageFixture
): Promise<{ url_id: string; ui_name: string }[]> {
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
  name: string
): Promise<void> {
  const body = await page.screenshot();
  await testInfo.attach(name, { body, contentType: 'image/png' });
  if (process.env.REMOTEAPP_DOCS_SCREENSHOTS === '1') {
    const file = path.resolve(__dirname, '..', '..', 'docs', 'screenshots', name);
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

/**
 * JupyterLab saves the workspace (the layout and the tracked tabs) with a
 * debounce of 750 ms: give it time before a reload.
 */
export async function waitForLayoutSaved(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.waitForTimeout(1500);
}
