/**
 * The application tabs (restored after a reload) and the commands.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

// The commands must exist during activation: the launcher shows their labels
// and the layout restorer runs `open` at start. Their dialogs and the logs tab
// load on first use (see '../commands').
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addCommands, DEFAULT_CONFIG, IRemoteAppConfig } from '../commands';
import {
  CommandIDs,
  IRemoteApps,
  PLUGIN_ID,
  TRANSLATION_DOMAIN
} from '../tokens';
import { RemoteAppTab } from '../widgets/apptab';

export const tabsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'remoteapp:tabs',
  description: 'Show remote applications in JupyterLab tabs.',
  autoStart: true,
  requires: [IRemoteApps],
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ITranslator,
    ICommandPalette,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    model: IRemoteApps,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const tracker = new WidgetTracker<RemoteAppTab>({ namespace: 'remoteapp' });
    const config: IRemoteAppConfig = { ...DEFAULT_CONFIG };

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          const get = <T>(key: keyof IRemoteAppConfig): T =>
            settings.get(key).composite as T;
          config.confirmBeforeStop = get<boolean>('confirmBeforeStop');
          config.openInBrowserTab = get<boolean>('openInBrowserTab');
          config.defaultResolution = get<string>('defaultResolution');
        };
        apply();
        settings.changed.connect(apply);
      });
    }

    addCommands({
      app,
      model,
      trans,
      tracker,
      config,
      selectedPath: () => {
        const first = fileBrowser?.selectedItems().next();
        return first && !first.done && first.value.type !== 'directory'
          ? first.value.path
          : undefined;
      }
    });

    // Tabs come back after a reload, by url_id (an admin's tab of someone
    // else's app with the container as the admin list gave it: the user's
    // `GET containers/{url_id}` does not know it); the open command asks for
    // a fresh ticket, and shows a message when the container is gone.
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.open,
        args: tab =>
          tab.owner
            ? {
                url_id: tab.urlId,
                owner: tab.owner,
                container: tab.lastContainer as any
              }
            : { url_id: tab.urlId },
        name: tab => (tab.owner ? `${tab.urlId}@${tab.owner}` : tab.urlId)
      });
    }

    if (palette) {
      const category = trans.__('Remote Apps');
      palette.addItem({ command: CommandIDs.refresh, category });
    }
  }
};
