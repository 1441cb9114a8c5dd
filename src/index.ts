import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { RemoteAppRequestError, requestAPI } from './api';
import { IMe, PLUGIN_ID, TRANSLATION_DOMAIN } from './tokens';

export * from './api';
export * from './tokens';

/**
 * The main plugin of remoteapp.
 *
 * For now it loads its settings and asks the server who the user is; the
 * launcher, the panels and the model come in a later version.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Start dockerized desktop and web applications and show them in JupyterLab tabs.',
  autoStart: true,
  optional: [ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    console.log(trans.__('remoteapp is activated'));

    if (settingRegistry) {
      settingRegistry.load(PLUGIN_ID).catch(reason => {
        console.warn(
          trans.__('remoteapp: failed to load the settings'),
          reason
        );
      });
    }

    // Do not delay the activation of JupyterLab: the request runs on its own,
    // and a missing server extension (404) only yields a warning.
    void requestAPI<IMe>('me', {}, app.serviceManager.serverSettings).then(
      me => {
        console.log(
          trans.__(
            'remoteapp: signed in as %1 (admin: %2, mode: %3)',
            me.name,
            String(me.admin),
            me.mode
          )
        );
      },
      (error: unknown) => {
        if (error instanceof RemoteAppRequestError && error.isNotFound) {
          console.warn(
            trans.__(
              'remoteapp: the server extension is not available (%1)',
              error.message
            )
          );
        } else {
          console.warn(
            trans.__('remoteapp: cannot get the current user'),
            error
          );
        }
      }
    );
  }
};

export default [plugin];
