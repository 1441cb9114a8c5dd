/**
 * The Remote Apps sidebar (left).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { remoteAppIcon } from '../icons';
import { CommandIDs, IRemoteApps, TRANSLATION_DOMAIN } from '../tokens';
import { LazyPanel } from '../widgets/lazypanel';

export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'remoteapp:sidebar',
  description: 'The Remote Apps sidebar: start, open, stop applications.',
  autoStart: true,
  requires: [IRemoteApps],
  optional: [ITranslator, ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    model: IRemoteApps,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    // The side bar icon is there at once; the panel's code loads when it is
    // first shown.
    const panel = new LazyPanel(async () => {
      const { RemoteAppsPanel } = await import('../widgets/sidebar');
      return new RemoteAppsPanel({ model, commands: app.commands, trans });
    });
    panel.addClass('jp-RemoteApp-panel');
    panel.addClass('jp-RemoteApp-lazyPanel');
    panel.id = 'remoteapp-sidebar';
    panel.title.icon = remoteAppIcon;
    panel.title.caption = trans.__('Remote Apps');
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);

    app.commands.addCommand(CommandIDs.showSidebar, {
      label: trans.__('Show Remote Apps'),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({
      command: CommandIDs.showSidebar,
      category: trans.__('Remote Apps')
    });
  }
};
