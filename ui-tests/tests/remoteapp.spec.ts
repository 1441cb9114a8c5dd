import { expect, test } from '@jupyterlab/galata';

/**
 * Don't load JupyterLab webpage before running the tests.
 * This is required to ensure we capture all log messages.
 *
 * Galata mocks every URL matching `/.*\/api\/me.*\/` (JupyterLab's own
 * `/api/me`), which also catches `remoteapp/api/me`: turn that mock off so
 * the extension talks to the real server.
 */
test.use({ autoGoto: false, mockUser: false });

test('should emit an activation console message', async ({ page }) => {
  const logs: string[] = [];

  page.on('console', message => {
    logs.push(message.text());
  });

  await page.goto();

  expect(logs.filter(s => s === 'remoteapp is activated')).toHaveLength(1);
});
