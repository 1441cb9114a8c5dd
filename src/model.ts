/**
 * The state of the user's remote applications and containers.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  isMissingEndpoint,
  RemoteAppRequestError,
  RemoteAppsRestClient
} from './api';
import {
  IApplicationEntry,
  IContainer,
  IFrameTarget,
  IMe,
  IRemoteApps,
  IStartProgress,
  IStartRequest
} from './tokens';

/**
 * The default refresh interval (ms), the `pollInterval` setting's default.
 */
export const DEFAULT_POLL_INTERVAL = 5000;

/**
 * The URL at which to show a container: noVNC's page for desktop apps.
 *
 * noVNC keeps `path` in the origin's localStorage, shared by every app:
 * always pass it in the query. `path` is the WebSocket's path on the page's
 * host (without the leading slash): the path of the container's URL, which
 * is absolute on the apps origin (a path on older servers).
 * `resize=scale` fits the desktop to the tab.
 */
export function containerViewURL(container: IContainer): string {
  if (container.type !== 'vncapp') {
    return container.url;
  }
  const { pathname } = new URL(container.url, window.location.href);
  const websockify = pathname.replace(/^\/+/, '') + 'websockify';
  return (
    `${container.url}vnc.html?autoconnect=true&resize=scale&reconnect=true` +
    `&path=${encodeURIComponent(websockify)}`
  );
}

/**
 * The model shared by the launcher, the sidebar, the tabs and the commands.
 *
 * A `Poll` refreshes it; the poll stands by while the browser tab is hidden
 * and backs off when the server fails.
 */
export class RemoteAppsModel implements IRemoteApps {
  constructor(options: RemoteAppsModel.IOptions = {}) {
    this.api = new RemoteAppsRestClient(
      options.serverSettings ?? ServerConnection.makeSettings()
    );
    const interval = options.pollInterval ?? DEFAULT_POLL_INTERVAL;
    this._poll = new Poll({
      auto: options.autoStart ?? true,
      factory: () => this._fetch(),
      frequency: { interval, backoff: true, max: 10 * interval },
      name: 'remoteapp:model',
      standby: 'when-hidden'
    });
  }

  /** The REST API client. */
  readonly api: RemoteAppsRestClient;

  get serverSettings(): ServerConnection.ISettings {
    return this.api.serverSettings;
  }

  get me(): IMe | null {
    return this._me;
  }

  getMe(): Promise<IMe> {
    if (!this._mePromise) {
      this._mePromise = this.api.me().then(
        me => {
          if (!this._me) {
            this._me = me;
          }
          return me;
        },
        error => {
          // Ask again next time (the poll, a plugin).
          this._mePromise = null;
          throw error;
        }
      );
    }
    return this._mePromise;
  }

  get applications(): ReadonlyArray<IApplicationEntry> {
    return this._applications;
  }

  get containers(): ReadonlyArray<IContainer> {
    return this._containers;
  }

  get available(): boolean {
    return this._available;
  }

  get changed(): ISignal<IRemoteApps, void> {
    return this._changed;
  }

  get startProgress(): ISignal<
    IRemoteApps,
    { mappingId: string; progress: IStartProgress }
  > {
    return this._startProgress;
  }

  get poll(): Poll {
    return this._poll;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Change how often the model refreshes (ms).
   */
  setPollInterval(interval: number): void {
    this._poll.frequency = { interval, backoff: true, max: 10 * interval };
  }

  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  application(mappingId: string): IApplicationEntry | undefined {
    return this._applications.find(entry => entry.mapping_id === mappingId);
  }

  container(urlId: string): IContainer | undefined {
    return this._containers.find(container => container.url_id === urlId);
  }

  async start(request: IStartRequest): Promise<IContainer> {
    try {
      return await this.api.startWithProgress(request, progress =>
        this._startProgress.emit({ mappingId: request.mapping_id, progress })
      );
    } finally {
      // Tell the listeners that this start is over (whatever the outcome).
      this._startProgress.emit({
        mappingId: request.mapping_id,
        progress: { stage: 'done', message: '' }
      });
      void this._poll.refresh();
    }
  }

  async stop(urlId: string): Promise<void> {
    try {
      await this.api.stop(urlId);
    } catch (error) {
      // Stopping is idempotent for the user: gone is gone.
      if (!(error instanceof RemoteAppRequestError && error.isNotFound)) {
        throw error;
      }
    }
    this._containers = this._containers.filter(c => c.url_id !== urlId);
    this._changed.emit();
    void this._poll.refresh();
  }

  viewURL(container: IContainer): string {
    return containerViewURL(container);
  }

  async frameTarget(container: IContainer): Promise<IFrameTarget> {
    const view = this.viewURL(container);
    let ticket: string;
    try {
      ticket = (await this.api.ticket(container.url_id)).url;
    } catch (error) {
      if (isMissingEndpoint(error)) {
        // A server from before tickets: the app is on the Lab's origin,
        // behind the Lab's own session.
        return { url: view, next: null, ticketed: false };
      }
      throw error;
    }
    // The ticket redirects to the app's root.
    return {
      url: ticket,
      next: view === container.url ? null : view,
      ticketed: true
    };
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * Fetch everything; emit `changed` only when something changed.
   */
  private async _fetch(): Promise<void> {
    try {
      const me = this._me ?? (await this.getMe());
      const [applications, containers] = await Promise.all([
        this.api.applications(),
        this.api.containers()
      ]);
      const snapshot = JSON.stringify([me, applications, containers]);
      this._available = true;
      if (snapshot !== this._snapshot) {
        this._snapshot = snapshot;
        this._me = me;
        this._applications = applications;
        this._containers = containers;
        this._changed.emit();
      }
    } catch (error) {
      if (this._available) {
        this._available = false;
        this._changed.emit();
      }
      // Rejecting makes the poll back off.
      throw error;
    }
  }

  private _me: IMe | null = null;
  private _mePromise: Promise<IMe> | null = null;
  private _applications: IApplicationEntry[] = [];
  private _containers: IContainer[] = [];
  private _available = false;
  private _snapshot = '';
  private _isDisposed = false;
  private _poll: Poll;
  private _changed = new Signal<IRemoteApps, void>(this);
  private _startProgress = new Signal<
    IRemoteApps,
    { mappingId: string; progress: IStartProgress }
  >(this);
}

export namespace RemoteAppsModel {
  export interface IOptions {
    /** The server settings (default: `ServerConnection.makeSettings()`). */
    serverSettings?: ServerConnection.ISettings;
    /** The refresh interval in ms. */
    pollInterval?: number;
    /** Start polling at once (default true). */
    autoStart?: boolean;
  }
}
