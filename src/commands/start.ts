/**
 * `remoteapp:start`: the configurables dialog, the progress notification, the
 * new app's tab.
 */
import { Notification } from '@jupyterlab/apputils';

import { applicationIcon } from '../icons';
import { notifyError } from '../notify';
import { applicationCaption } from '../policy';
import {
  CommandIDs,
  IApplicationEntry,
  IContainer,
  IRemoteApps,
  IStartConfigurables,
  IStartProgress
} from '../tokens';
import { ICommandsContext } from './context';
import { AppTabs } from './tabs';

// The start dialog loads on first use (`import()` below): the command itself
// must exist at activation, for the launcher.

/**
 * The size (WxH) of the content of a main-area tab, as the desktop resolution
 * that fills it without scaling.
 */
export function mainAreaResolution(): string {
  const dock = document.getElementById('jp-main-dock-panel');
  const rect = dock?.getBoundingClientRect();
  const width = rect?.width || window.innerWidth;
  // The tab bar and the tab's toolbar take about 60 px.
  const height = (rect?.height || window.innerHeight) - 60;
  return `${Math.max(64, Math.floor(width))}x${Math.max(64, Math.floor(height))}`;
}

/**
 * Whether starting `entry` asks anything: a resolution, or startup data when
 * the policy allows it (the dialog shows no startup field otherwise).
 */
export function hasChoices(entry: IApplicationEntry): boolean {
  return entry.image.configurables.some(
    c =>
      c.tag === 'resolution' ||
      (c.tag === 'startupdata' && entry.policy.allow_startup_data)
  );
}

export function addStartCommand(
  context: ICommandsContext,
  tabs: AppTabs
): void {
  const { app, model, trans, config } = context;

  /** The user's choices: from the dialog when there is something to choose. */
  const askChoices = async (
    entry: IApplicationEntry
  ): Promise<IStartConfigurables | null> => {
    if (!hasChoices(entry)) {
      return {};
    }
    const { askConfigurables, clampResolution } =
      await import('../widgets/startdialog');
    const resolution = entry.image.configurables.find(
      c => c.tag === 'resolution'
    );
    const [w, h] = mainAreaResolution().split('x').map(Number);
    return askConfigurables({
      entry,
      trans,
      fitResolution: resolution
        ? clampResolution(w, h, resolution)
        : `${w}x${h}`,
      defaultResolution: config.defaultResolution,
      selectedPath: context.selectedPath?.()
    });
  };

  /** Start with a progress notification; null when it failed (notified). */
  const startWithProgress = async (
    entry: IApplicationEntry,
    configurables: IStartConfigurables
  ): Promise<IContainer | null> => {
    const mappingId = entry.mapping_id;
    const name = entry.image.ui_name;
    const id = Notification.emit(
      trans.__('Starting %1…', name),
      'in-progress',
      { autoClose: false }
    );
    const onProgress = (
      _: IRemoteApps,
      event: { mappingId: string; progress: IStartProgress }
    ) => {
      if (event.mappingId === mappingId && event.progress.message) {
        Notification.update({
          id,
          message: trans.__('Starting %1: %2', name, event.progress.message)
        });
      }
    };
    model.startProgress.connect(onProgress);
    try {
      const container = await model.start({
        mapping_id: mappingId,
        configurables
      });
      Notification.update({
        id,
        message: trans.__('%1 is running', name),
        type: 'success',
        autoClose: 3000
      });
      return container;
    } catch (error) {
      Notification.dismiss(id);
      notifyError(trans.__('Could not start %1', name), error, trans);
      return null;
    } finally {
      model.startProgress.disconnect(onProgress);
    }
  };

  app.commands.addCommand(CommandIDs.start, {
    label: args => {
      const entry = model.application(String(args.mapping_id ?? ''));
      return entry ? entry.image.ui_name : trans.__('Start Remote App');
    },
    caption: args => {
      const entry = model.application(String(args.mapping_id ?? ''));
      return entry ? applicationCaption(entry, trans) : '';
    },
    icon: args => {
      const entry = model.application(String(args.mapping_id ?? ''));
      return entry ? applicationIcon(entry) : undefined;
    },
    describedBy: {
      args: {
        type: 'object',
        properties: {
          mapping_id: { type: 'string' },
          configurables: { type: 'object' }
        },
        required: ['mapping_id']
      }
    },
    execute: async args => {
      const mappingId = String(args.mapping_id ?? '');
      const entry = model.application(mappingId);
      if (!entry) {
        notifyError(
          trans.__('Could not start the application'),
          new Error(trans.__('Unknown application %1', mappingId)),
          trans
        );
        return;
      }
      const configurables =
        (args.configurables as IStartConfigurables | undefined) ??
        (await askChoices(entry));
      if (!configurables) {
        return;
      }
      const container = await startWithProgress(entry, configurables);
      if (!container) {
        return;
      }
      if (config.openInBrowserTab) {
        // Not within the click any more: a popup blocker may refuse; the
        // error notification says so.
        await tabs.openInBrowser(async () => container);
        return container;
      }
      await tabs.show(container);
      return container;
    }
  });
}
