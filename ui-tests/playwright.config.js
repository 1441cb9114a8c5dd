/**
 * Configuration for Playwright using default from @jupyterlab/galata
 *
 * Runs in the system Chromium (/usr/bin/chromium): Playwright cannot download
 * its own browsers here, and video/trace need Playwright's own ffmpeg.
 *
 * Two real JupyterLab servers with the real extension and real docker:
 * - 8888: the OS user is admin (personal mode default), project `admin`;
 * - 8889: `personal_admin = False`, project `user` (no admin sidebar), and the
 *   accounting user `uitest-other` (the admin opens that user's app).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const ADMIN_URL = 'http://localhost:8888';
const USER_URL = 'http://localhost:8889';

module.exports = {
  ...baseConfig,
  // The tests start real containers: one worker keeps the machine calm.
  workers: 1,
  // Waits end as soon as their condition holds; the limits are for a busy machine
  // (2 cores shared with other docker work), see CONTAINER_TIMEOUT in tests/helpers.ts.
  timeout: 240 * 1000,
  expect: { ...baseConfig.expect, timeout: 15 * 1000 },
  globalTeardown: require.resolve('./global-teardown.js'),
  use: {
    ...baseConfig.use,
    video: 'off',
    trace: 'off',
    launchOptions: require('./chromium.js')
  },
  projects: [
    {
      name: 'admin',
      testIgnore: /nonadmin\.spec\.ts/,
      use: { baseURL: ADMIN_URL }
    },
    {
      name: 'user',
      testMatch: /nonadmin\.spec\.ts/,
      use: { baseURL: USER_URL }
    }
  ],
  webServer: [
    {
      command: 'jlpm start',
      url: `${ADMIN_URL}/lab`,
      timeout: 120 * 1000,
      reuseExistingServer: !process.env.CI
    },
    {
      command: 'jlpm start',
      url: `${USER_URL}/lab`,
      env: {
        REMOTEAPP_UITEST_PORT: '8889',
        REMOTEAPP_UITEST_ADMIN: '0',
        REMOTEAPP_UITEST_USER: 'uitest-other'
      },
      timeout: 120 * 1000,
      reuseExistingServer: !process.env.CI
    }
  ]
};
