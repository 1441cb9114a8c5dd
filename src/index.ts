/**
 * remoteapp: dockerized desktop (VNC) and web applications in JupyterLab tabs.
 *
 * Several small plugins around one model token (`IRemoteApps`): the core
 * plugin provides the model; tabs+commands, launcher, sidebar and admin
 * consume it and can each be disabled on their own.
 */
import { adminPlugin } from './plugins/admin';
import { corePlugin } from './plugins/core';
import { launcherPlugin } from './plugins/launcher';
import { sidebarPlugin } from './plugins/sidebar';
import { tabsPlugin } from './plugins/tabs';

export * from './api';
export * from './model';
export * from './tokens';

export default [
  corePlugin,
  tabsPlugin,
  launcherPlugin,
  sidebarPlugin,
  adminPlugin
];
