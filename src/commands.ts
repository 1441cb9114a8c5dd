/**
 * The commands of the extension: start, open, stop, logs, refresh.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  showDialog,
  WidgetTracker
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { RemoteAppRequestError } from './api';
import { applicationIcon } from './icons';
import { notifyError } from './notify';
import { applicationCaption } from './policy';
import {
  CommandIDs,
  IApplicationEntry,
  IContainer,
  IRemoteApps,
  IStartConfigurables,
  IStartProgress
} from './tokens';
import { RemoteAppTab } from './widgets/apptab';

// The start dialog and the logs tab load on first use (`import()` in the
// commands below): the commands themselves must exist at activation, for the
// launcher and the layout restorer.

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

/** The arguments schema of the commands that act on one container. */
const URL_ID_ARGS = {
  args: {
    type: 'object' as const,
    properties: { url_id: { type: 'string' as const } },
    required: ['url_id']
  }
};

/** The arguments schema of the commands without arguments. */
const NO_ARGS = { args: { type: 'object' as const, properties: {} } };

export namespace RemoteAppCommands {
  export interface IOptions {
    app: JupyterFrontEnd;
    model: IRemoteApps;
    trans: TranslationBundle;
    tracker: WidgetTracker<RemoteAppTab>;
    config: IRemoteAppConfig;
    /** The path of the file selected in the file browser, if any. */
    selectedPath?: () => string | undefined;
  }
}

/**
 * Register the commands; returns nothing, they live as long as the app.
 */
export function addCommands(options: RemoteAppCommands.IOptions): void {
  const { app, model, trans, tracker, config } = options;
  const { commands, shell } = app;

  const tabFor = (urlId: string) =>
    tracker.find(tab => tab.urlId === urlId) ?? null;

  const askClose = async (tab: RemoteAppTab): Promise<boolean> => {
    if (!config.confirmBeforeStop) {
      return true;
    }
    const name = tab.container?.ui_name ?? tab.title.label;
    const result = await showDialog({
      title: trans.__('Close %1', name),
      body: trans.__(
        'Stop the application, or keep it running? A running application can be opened again from the Remote Apps sidebar.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({
          label: trans.__('Keep running'),
          displayType: 'default',
          actions: ['keep']
        }),
        Dialog.warnButton({
          label: trans.__('Stop'),
          actions: ['stop']
        })
      ]
    });
    if (!result.button.accept) {
      return false;
    }
    if (result.button.actions.includes('stop')) {
      try {
        await model.stop(tab.urlId);
      } catch (error) {
        notifyError(trans.__('Could not stop %1', name), error, trans);
        return false;
      }
    }
    return true;
  };

  const showInTab = (container: IContainer): RemoteAppTab => {
    let tab = tabFor(container.url_id);
    if (!tab) {
      tab = createTab(container.url_id, container.ui_name);
    }
    tab.showContainer(container, model.viewURL(container));
    shell.activateById(tab.id);
    return tab;
  };

  const createTab = (urlId: string, label?: string): RemoteAppTab => {
    const tab = new RemoteAppTab({ urlId, trans, label, askClose });
    tab.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the application'),
        onClick: () => tab.reload()
      })
    );
    void tracker.add(tab);
    shell.add(tab, 'main');
    return tab;
  };

  const goneMessage = () =>
    trans.__(
      'This application is not running any more (it was stopped, or its container was removed). Start it again from the launcher or the Remote Apps sidebar.'
    );

  // Tabs of containers that disappeared show a message, not a broken frame.
  model.changed.connect(() => {
    if (!model.available) {
      return;
    }
    tracker.forEach(tab => {
      if (tab.container && !model.container(tab.urlId)) {
        tab.showGone(goneMessage());
      }
    });
  });

  const openInBrowser = (container: IContainer) => {
    window.open(model.viewURL(container), '_blank', 'noopener');
  };

  commands.addCommand(CommandIDs.start, {
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
        Notification.error(trans.__('Unknown application %1', mappingId));
        return;
      }
      let configurables = args.configurables as IStartConfigurables | undefined;
      if (!configurables && hasChoices(entry)) {
        const { askConfigurables, clampResolution } =
          await import('./widgets/startdialog');
        const resolution = entry.image.configurables.find(
          c => c.tag === 'resolution'
        );
        const [w, h] = mainAreaResolution().split('x').map(Number);
        const answer = await askConfigurables({
          entry,
          trans,
          fitResolution: resolution
            ? clampResolution(w, h, resolution)
            : `${w}x${h}`,
          defaultResolution: config.defaultResolution,
          selectedPath: options.selectedPath?.()
        });
        if (!answer) {
          return;
        }
        configurables = answer;
      }
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
      let container: IContainer;
      try {
        container = await model.start({
          mapping_id: mappingId,
          configurables: configurables ?? {}
        });
      } catch (error) {
        Notification.dismiss(id);
        notifyError(trans.__('Could not start %1', name), error, trans);
        return;
      } finally {
        model.startProgress.disconnect(onProgress);
      }
      Notification.update({
        id,
        message: trans.__('%1 is running', name),
        type: 'success',
        autoClose: 3000
      });
      if (config.openInBrowserTab) {
        openInBrowser(container);
        return container;
      }
      showInTab(container);
      return container;
    }
  });

  commands.addCommand(CommandIDs.open, {
    label: trans.__('Open in a Tab'),
    caption: trans.__('Open the application in a JupyterLab tab'),
    describedBy: URL_ID_ARGS,
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const existing = tabFor(urlId);
      if (existing && !existing.isGone) {
        shell.activateById(existing.id);
        return existing;
      }
      const tab = existing ?? createTab(urlId);
      // Also used by the layout restorer, before the model has loaded.
      let container = model.container(urlId);
      if (!container) {
        try {
          container = await model.api.container(urlId);
        } catch (error) {
          if (error instanceof RemoteAppRequestError && error.isNotFound) {
            tab.showGone(goneMessage());
            return tab;
          }
          tab.showGone(
            trans.__('Cannot reach the application: %1', String(error))
          );
          return tab;
        }
      }
      tab.showContainer(container, model.viewURL(container));
      shell.activateById(tab.id);
      return tab;
    }
  });

  commands.addCommand(CommandIDs.openInBrowserTab, {
    label: trans.__('Open in a Browser Tab'),
    describedBy: URL_ID_ARGS,
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const container =
        model.container(urlId) ?? (await model.api.container(urlId));
      openInBrowser(container);
    }
  });

  commands.addCommand(CommandIDs.stop, {
    label: trans.__('Stop'),
    describedBy: URL_ID_ARGS,
    caption: trans.__('Stop and remove the application container'),
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const name = model.container(urlId)?.ui_name ?? urlId;
      if (config.confirmBeforeStop) {
        const result = await showDialog({
          title: trans.__('Stop %1?', name),
          body: trans.__(
            'The container is removed; unsaved work in it is lost.'
          ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Cancel') }),
            Dialog.warnButton({ label: trans.__('Stop') })
          ]
        });
        if (!result.button.accept) {
          return;
        }
      }
      try {
        await model.stop(urlId);
      } catch (error) {
        notifyError(trans.__('Could not stop %1', name), error, trans);
        return;
      }
      tabFor(urlId)?.dispose();
    }
  });

  commands.addCommand(CommandIDs.logs, {
    label: trans.__('Show Logs'),
    describedBy: URL_ID_ARGS,
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const name = model.container(urlId)?.ui_name ?? urlId;
      try {
        const [{ logs }, { createLogsTab }] = await Promise.all([
          model.api.logs(urlId),
          import('./widgets/logs')
        ]);
        const widget = createLogsTab(urlId, name, logs, trans);
        shell.add(widget, 'main');
        shell.activateById(widget.id);
      } catch (error) {
        notifyError(
          trans.__('Could not get the logs of %1', name),
          error,
          trans
        );
      }
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Remote Apps'),
    describedBy: NO_ARGS,
    icon: refreshIcon,
    execute: () => model.refresh()
  });
}
