/**
 * App tabs (one per container, restored after a reload) and browser tabs:
 * both reach the app through a fresh ticket.
 */
import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { RemoteAppRequestError } from '../api';
import { confirmStop } from '../dialogs';
import { notifyError } from '../notify';
import { CommandIDs, IContainer, IMe } from '../tokens';
import { RemoteAppTab } from '../widgets/apptab';
import { ICommandsContext, URL_ID_ARGS } from './context';

/**
 * The warning when apps run on the Lab's origin (`apps_isolated: false`),
 * naming the setting that gives them an origin of their own; null otherwise.
 */
export function isolationWarning(
  me: IMe | null,
  trans: TranslationBundle
): string | null {
  if (!me || me.apps_isolated !== false) {
    return null;
  }
  const setting =
    me.mode === 'hub' ? 'c.RemoteAppService.apps_url' : 'c.RemoteApp.apps_url';
  return trans.__(
    'Apps run on the origin of JupyterLab here: a hostile app could use JupyterLab as you. Set %1 to serve apps from an origin of their own.',
    setting
  );
}

/** How often to look whether a browser tab has left `about:blank` (ms). */
const BROWSER_TAB_POLL = 50;

/**
 * The app tabs of the page.
 */
export class AppTabs {
  constructor(private _context: ICommandsContext) {
    const { model, tracker } = _context;
    // Tabs of the user's containers that disappeared show a message, not a
    // broken frame. (An admin's tab of someone else's container is not in the
    // model: it learns that it is gone from the ticket request.)
    model.changed.connect(() => {
      if (!model.available) {
        return;
      }
      tracker.forEach(tab => {
        if (!tab.owner && tab.container && !model.container(tab.urlId)) {
          tab.showGone();
        }
      });
    });
  }

  /** The tab of a container (of `owner`'s, for an admin's tab), or null. */
  find(urlId: string, owner: string | null = null): RemoteAppTab | null {
    return (
      this._context.tracker.find(
        tab => tab.urlId === urlId && tab.owner === owner
      ) ?? null
    );
  }

  /** A new (empty) tab in the main area. */
  create(
    urlId: string,
    options: { label?: string; owner?: string | null } = {}
  ): RemoteAppTab {
    const { app, model, trans, tracker } = this._context;
    const tab = new RemoteAppTab({
      urlId,
      trans,
      label: options.label,
      owner: options.owner ?? null,
      locate: container => model.frameTarget(container),
      // Someone else's app is stopped from the admin sidebar, not by closing.
      askClose: options.owner ? undefined : tab => this._askClose(tab),
      onError: (summary, error) => notifyError(summary, error, trans)
    });
    tab.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Reload the application'),
        onClick: () => void tab.reload()
      })
    );
    void tracker.add(tab);
    app.shell.add(tab, 'main');
    return tab;
  }

  /**
   * Show `container` in its tab (created when there is none) and activate it.
   */
  async show(
    container: IContainer,
    owner: string | null = null
  ): Promise<RemoteAppTab> {
    const tab =
      this.find(container.url_id, owner) ??
      this.create(container.url_id, { label: container.ui_name, owner });
    await this.display(tab, container);
    return tab;
  }

  /**
   * Load `container` in `tab` through a fresh ticket, with the isolation
   * warning when there is one (and once per page as a notification).
   */
  async display(tab: RemoteAppTab, container: IContainer): Promise<void> {
    const { app, model, trans } = this._context;
    const me = await model.getMe().catch(() => null);
    const warning = isolationWarning(me, trans);
    tab.setWarning(warning);
    if (warning && !this._warned) {
      this._warned = true;
      Notification.warning(warning, { autoClose: false });
    }
    app.shell.activateById(tab.id);
    await tab.showContainer(container);
  }

  /**
   * Open `container` in a new browser tab, through a fresh ticket.
   *
   * The browser tab is opened at once (still within the click, so that no
   * popup blocker interferes), cut off from this page (`opener = null`), then
   * sent to the ticket URL; a desktop app then goes on to noVNC's page once
   * the ticket's redirect has reached the apps origin.
   */
  async openInBrowser(getContainer: () => Promise<IContainer>): Promise<void> {
    const { model, trans } = this._context;
    const win = window.open('about:blank', '_blank');
    let name = '';
    try {
      const container = await getContainer();
      name = container.ui_name;
      const target = await model.frameTarget(container);
      if (!win) {
        throw new Error(trans.__('The browser blocked the new tab.'));
      }
      win.opener = null;
      win.location.href = target.url;
      if (target.next) {
        await leftThisOrigin(win);
        win.location.href = target.next;
      }
    } catch (error) {
      win?.close();
      notifyError(
        name
          ? trans.__('Could not open %1', name)
          : trans.__('Could not open the application'),
        error,
        trans
      );
    }
  }

  /** Closing a tab: stop the app, keep it running, or cancel. */
  private async _askClose(tab: RemoteAppTab): Promise<boolean> {
    const { model, trans, config } = this._context;
    if (!config.confirmBeforeStop) {
      return true;
    }
    const name = tab.container?.ui_name ?? tab.title.label;
    const choice = await confirmStop(name, trans, { closing: true });
    if (choice === 'cancel') {
      return false;
    }
    if (choice === 'stop') {
      try {
        await model.stop(tab.urlId);
      } catch (error) {
        notifyError(trans.__('Could not stop %1', name), error, trans);
        return false;
      }
    }
    return true;
  }

  private _warned = false;
}

/**
 * Resolve once `win` shows a page of another origin (reading its location
 * throws) or is closed; give up after 30 s (the ticket's lifetime).
 */
function leftThisOrigin(win: Window): Promise<void> {
  const end = Date.now() + 30000;
  return new Promise(resolve => {
    const check = () => {
      let away = win.closed || Date.now() > end;
      if (!away) {
        try {
          away = win.location.href !== 'about:blank';
        } catch {
          away = true;
        }
      }
      if (away) {
        resolve();
      } else {
        window.setTimeout(check, BROWSER_TAB_POLL);
      }
    };
    check();
  });
}

/**
 * Open (in a Lab tab, or in a browser tab): `remoteapp:open` and
 * `remoteapp:open-in-browser-tab`.
 */
export function addTabCommands(context: ICommandsContext, tabs: AppTabs): void {
  const { app, model, trans } = context;

  const containerOf = async (urlId: string): Promise<IContainer> =>
    model.container(urlId) ?? (await model.api.container(urlId));

  app.commands.addCommand(CommandIDs.open, {
    label: trans.__('Open in a Tab'),
    caption: trans.__('Open the application in a JupyterLab tab'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          url_id: { type: 'string' },
          owner: {
            type: 'string',
            description: 'the owner, when it is not the current user (admins)'
          },
          container: {
            type: 'object',
            description: 'the container as the admin API lists it'
          }
        },
        required: ['url_id']
      }
    },
    execute: async args => {
      const urlId = String(args.url_id ?? '');
      const me = await model.getMe().catch(() => null);
      const given = args.container as IContainer | undefined;
      const owner =
        typeof args.owner === 'string' && args.owner !== me?.name
          ? args.owner
          : null;
      const existing = tabs.find(urlId, owner);
      if (existing && !existing.isGone) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const tab =
        existing ?? tabs.create(urlId, { label: given?.ui_name, owner });
      // Also run by the layout restorer, before the model has loaded.
      let container = owner ? given : model.container(urlId);
      if (!container) {
        try {
          container = await model.api.container(urlId);
        } catch (error) {
          if (error instanceof RemoteAppRequestError && error.isNotFound) {
            tab.showGone();
          } else {
            tab.showGone(
              trans.__('Cannot reach the application: %1', String(error))
            );
          }
          return tab;
        }
      }
      await tabs.display(tab, container);
      return tab;
    }
  });

  app.commands.addCommand(CommandIDs.openInBrowserTab, {
    label: trans.__('Open in a Browser Tab'),
    describedBy: URL_ID_ARGS,
    execute: args =>
      tabs.openInBrowser(() => containerOf(String(args.url_id ?? '')))
  });
}
