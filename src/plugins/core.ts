/**
 * The core plugin: the model of the user's apps and containers.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import type { RemoteAppRequestError } from '../api';
// The plugin provides the model: activation builds it at once, so the module is
// needed before the application starts (it brings '../api' with it).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { DEFAULT_POLL_INTERVAL, RemoteAppsModel } from '../model';
import { IRemoteApps, PLUGIN_ID, TRANSLATION_DOMAIN } from '../tokens';

export const corePlugin: JupyterFrontEndPlugin<IRemoteApps> = {
  id: PLUGIN_ID,
  description:
    'Start dockerized desktop and web applications and show them in JupyterLab tabs.',
  autoStart: true,
  provides: IRemoteApps,
  optional: [ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): IRemoteApps => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    console.log(trans.__('remoteapp is activated'));

    const model = new RemoteAppsModel({
      serverSettings: app.serviceManager.serverSettings,
      pollInterval: DEFAULT_POLL_INTERVAL
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () =>
            model.setPollInterval(
              (settings.get('pollInterval').composite as number) ??
                DEFAULT_POLL_INTERVAL
            );
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.warn(
            trans.__('remoteapp: failed to load the settings'),
            reason
          );
        });
    }

    // Do not delay the activation of JupyterLab: the request runs on its own,
    // and a missing server extension (404) only yields a warning.
    void model.getMe().then(
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
        // A RemoteAppRequestError (see '../api'): 404 when the server
        // extension is not there.
        const failure = error as Partial<RemoteAppRequestError> | null;
        if (failure?.isNotFound) {
          console.warn(
            trans.__(
              'remoteapp: the server extension is not available (%1)',
              failure.message
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
    return model;
  }
};
