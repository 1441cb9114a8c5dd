/**
 * The admin sidebar, added only when the server says the user is an admin.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { remoteAppAdminIcon } from '../icons';
import { CommandIDs, IRemoteApps, TRANSLATION_DOMAIN } from '../tokens';

export const adminPlugin: JupyterFrontEndPlugin<void> = {
  id: 'remoteapp:admin',
  description: 'The Remote Apps admin sidebar (users, applications, grants).',
  autoStart: true,
  requires: [IRemoteApps],
  optional: [ITranslator, ILayoutRestorer, ICommandPalette],
  activate: async (
    app: JupyterFrontEnd,
    model: IRemoteApps,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = model.api;
    // Do not hold up the activation: add the panel once `me` is known.
    void model.getMe().then(
      async me => {
        if (!me.admin) {
          return;
        }
        // Only admins load the admin panel's code.
        const { RemoteAppsAdminPanel } = await import('../widgets/admin');
        const panel = new RemoteAppsAdminPanel({
          api,
          model,
          trans,
          commands: app.commands
        });
        panel.id = 'remoteapp-admin';
        panel.title.icon = remoteAppAdminIcon;
        panel.title.caption = trans.__('Remote Apps Admin');
        app.shell.add(panel, 'left', { rank: 650 });
        restorer?.add(panel, panel.id);
        app.commands.addCommand(CommandIDs.showAdmin, {
          label: trans.__('Show Remote Apps Admin'),
          describedBy: { args: { type: 'object', properties: {} } },
          execute: () => app.shell.activateById(panel.id)
        });
        palette?.addItem({
          command: CommandIDs.showAdmin,
          category: trans.__('Remote Apps')
        });
      },
      () => undefined // the core plugin already warned
    );
  }
};
