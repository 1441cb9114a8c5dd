/**
 * Acting on the user's containers: stop, logs, refresh.
 */
import { refreshIcon } from '@jupyterlab/ui-components';

import { confirmStop } from '../dialogs';
import { notifyError } from '../notify';
import { CommandIDs } from '../tokens';
import { ICommandsContext, NO_ARGS, URL_ID_ARGS } from './context';
import { AppTabs } from './tabs';

// The logs tab loads on first use (`import()` below).

export function addContainerCommands(
  context: ICommandsContext,
  tabs: AppTabs
): void {
  const { app, model, trans, config } = context;

  app.commands.addCommand(CommandIDs.stop, {
    label: trans.__('Stop'),
    describedBy: URL_ID_ARGS,
    caption: trans.__('Stop and remove the application container'),
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const name = model.container(urlId)?.ui_name ?? urlId;
      if (
        config.confirmBeforeStop &&
        (await confirmStop(name, trans)) !== 'stop'
      ) {
        return;
      }
      try {
        await model.stop(urlId);
      } catch (error) {
        notifyError(trans.__('Could not stop %1', name), error, trans);
        return;
      }
      tabs.find(urlId)?.dispose();
    }
  });

  app.commands.addCommand(CommandIDs.logs, {
    label: trans.__('Show Logs'),
    describedBy: URL_ID_ARGS,
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const name = model.container(urlId)?.ui_name ?? urlId;
      try {
        const [{ logs }, { createLogsTab }] = await Promise.all([
          model.api.logs(urlId),
          import('../widgets/logs')
        ]);
        const widget = createLogsTab(urlId, name, logs, trans);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      } catch (error) {
        notifyError(
          trans.__('Could not get the logs of %1', name),
          error,
          trans
        );
      }
    }
  });

  app.commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Remote Apps'),
    describedBy: NO_ARGS,
    icon: refreshIcon,
    execute: async () => {
      try {
        await model.refresh();
      } catch (error) {
        notifyError(trans.__('Could not refresh Remote Apps'), error, trans);
      }
    }
  });
}
