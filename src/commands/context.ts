/**
 * What the commands share: the settings they read, the objects they act on.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { IRemoteApps } from '../tokens';
import { RemoteAppTab } from '../widgets/apptab';

/**
 * The settings the commands read, kept up to date by the plugin.
 */
export interface IRemoteAppConfig {
  confirmBeforeStop: boolean;
  openInBrowserTab: boolean;
  defaultResolution: string;
}

export const DEFAULT_CONFIG: IRemoteAppConfig = {
  confirmBeforeStop: true,
  openInBrowserTab: false,
  defaultResolution: '1280x800'
};

/**
 * The options of `addCommands`, shared by every group of commands.
 */
export interface ICommandsContext {
  app: JupyterFrontEnd;
  model: IRemoteApps;
  trans: TranslationBundle;
  tracker: WidgetTracker<RemoteAppTab>;
  config: IRemoteAppConfig;
  /** The path of the file selected in the file browser, if any. */
  selectedPath?: () => string | undefined;
}

/** The arguments schema of the commands that act on one container. */
export const URL_ID_ARGS = {
  args: {
    type: 'object' as const,
    properties: { url_id: { type: 'string' as const } },
    required: ['url_id']
  }
};

/** The arguments schema of the commands without arguments. */
export const NO_ARGS = { args: { type: 'object' as const, properties: {} } };
