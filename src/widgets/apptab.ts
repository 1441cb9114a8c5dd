/**
 * A main-area tab showing a running container in an iframe.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IFrame } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { RemoteAppRequestError } from '../api';
import { IContainer, IFrameTarget } from '../tokens';

/**
 * The iframe sandbox of an application tab.
 *
 * Apps are served from an origin of their own (the apps origin: another host
 * name, e.g. `127.0.0.1` for a Lab on `localhost`; `apps_url` behind a Hub).
 * `allow-same-origin` gives the frame *that* origin, not the Lab's: the app's
 * scripts can use their own cookie (the apps-session cookie a ticket set),
 * storage and WebSockets (noVNC needs both), and the browser's same-origin
 * policy keeps them away from the Lab's cookies, DOM and Jupyter API. The
 * apps origin allows only the Lab to frame it (`frame-ancestors`).
 *
 * Where the server finds no second origin (`GET me` → `apps_isolated:
 * false`, e.g. a Lab behind a reverse proxy without `apps_url`), apps are on
 * the Lab's origin and `allow-same-origin` gives a hostile app the Lab's
 * origin: it could call the Jupyter API as the user. Leaving it out is not
 * possible there: the frame would get an opaque origin, the browser would not
 * send the session cookie (SameSite) with the app's own requests, noVNC's
 * storage and its WebSocket's Origin check would fail. So the tab shows a
 * warning instead, naming the setting that fixes it.
 *
 * `allow-forms` and `allow-downloads` let web apps submit forms and save
 * files; `allow-modals` allows alert/confirm; `allow-popups` lets apps open
 * links in a new browser tab. Top navigation stays blocked, so an app cannot
 * replace JupyterLab. See docs/frontend.md.
 */
export const APP_SANDBOX: IFrame.SandboxExceptions[] = [
  'allow-scripts',
  'allow-same-origin',
  'allow-forms',
  'allow-downloads',
  'allow-modals',
  'allow-popups'
];

/**
 * A tab with a remote application.
 */
export class RemoteAppTab extends MainAreaWidget<IFrame> {
  constructor(options: RemoteAppTab.IOptions) {
    const content = new IFrame({
      sandbox: APP_SANDBOX,
      referrerPolicy: 'same-origin'
    });
    super({ content });
    this.urlId = options.urlId;
    this.owner = options.owner ?? null;
    this._trans = options.trans;
    this._locate = options.locate;
    this._askClose = options.askClose;
    this._onError = options.onError;
    this.id = this.owner
      ? `remoteapp-admin-${options.urlId}`
      : `remoteapp-${options.urlId}`;
    this.addClass('jp-RemoteApp-tab');
    this.content.addClass('jp-RemoteApp-frame');
    this.title.closable = true;
    this.title.label = options.label ?? this._trans.__('Remote app');
  }

  /** The container this tab shows. */
  readonly urlId: string;

  /**
   * The owner, when the tab shows someone else's app (an admin opened it
   * from the admin sidebar); null for the user's own apps.
   */
  readonly owner: string | null;

  /** The container shown, null before it is known or when it is gone. */
  get container(): IContainer | null {
    return this._container;
  }

  /** The last container shown (also once it is gone). */
  get lastContainer(): IContainer | null {
    return this._last;
  }

  /** Whether the container is gone (the tab shows a message). */
  get isGone(): boolean {
    return this._gone;
  }

  /** The iframe element. */
  get frame(): HTMLIFrameElement {
    return this.content.node.querySelector('iframe')!;
  }

  /**
   * Show the container: asks for a fresh ticket (every time: tickets are
   * single-use and short-lived) and loads it in the frame. A container the
   * server does not know any more shows the "gone" message.
   */
  async showContainer(container: IContainer): Promise<void> {
    this._container = container;
    this._last = container;
    this._gone = false;
    const { ui_name, image, started_at } = container;
    this.title.label = this.owner
      ? this._trans.__('%1 (%2)', ui_name, this.owner)
      : ui_name;
    this.title.caption = this.owner
      ? this._trans.__(
          '%1 (%2) of %3, started %4',
          ui_name,
          image,
          this.owner,
          started_at
        )
      : this._trans.__('%1 (%2), started %3', ui_name, image, started_at);
    const request = ++this._request;
    let target: IFrameTarget;
    try {
      target = await this._locate(container);
    } catch (error) {
      if (request !== this._request || this.isDisposed) {
        return;
      }
      if (error instanceof RemoteAppRequestError && error.isNotFound) {
        this.showGone();
      } else {
        this._onError?.(this._trans.__('Cannot open %1', ui_name), error);
        this._showMessage(
          this._trans.__('Cannot reach the application: %1', String(error))
        );
      }
      return;
    }
    if (request !== this._request || this.isDisposed) {
      return;
    }
    this._message?.remove();
    this._message = null;
    this.content.node.hidden = false;
    this._load(target);
  }

  /**
   * Replace the frame by a message: the container does not exist any more.
   */
  showGone(message?: string): void {
    this._gone = true;
    this._container = null;
    ++this._request;
    this._showMessage(
      message ??
        this._trans.__(
          'This application is not running any more (it was stopped, or its container was removed). Start it again from the launcher or the Remote Apps sidebar.'
        )
    );
  }

  /**
   * Show (text) or hide (null) the warning above the frame, e.g. that apps
   * run on the Lab's origin.
   */
  setWarning(text: string | null): void {
    if (!text) {
      this._warning?.dispose();
      this._warning = null;
      return;
    }
    if (!this._warning) {
      this._warning = new Widget();
      this._warning.addClass('jp-RemoteApp-warning');
      this._warning.node.setAttribute('role', 'note');
      this.contentHeader.addWidget(this._warning);
    }
    this._warning.node.textContent = text;
  }

  /** The warning shown above the frame, or null. */
  get warning(): string | null {
    return this._warning?.node.textContent ?? null;
  }

  /** Reload the app (through a fresh ticket). */
  reload(): Promise<void> {
    const container = this._container;
    return container ? this.showContainer(container) : Promise.resolve();
  }

  /**
   * Closing asks (via `askClose`) whether to stop the app; `false` keeps the tab.
   */
  protected onCloseRequest(msg: Message): void {
    if (this._closing || this._gone || !this._askClose) {
      super.onCloseRequest(msg);
      return;
    }
    this._closing = true;
    this._askClose(this)
      .then(close => {
        if (close && !this.isDisposed) {
          super.onCloseRequest(msg);
        }
      })
      .catch(console.error)
      .finally(() => {
        this._closing = false;
      });
  }

  /**
   * Load `target.url`; once it has loaded, go on to `target.next` (the
   * ticket's redirect ends at the app's root, noVNC's page is below it).
   */
  private _load(target: IFrameTarget): void {
    const frame = this.frame;
    this._cancelNext?.();
    this._cancelNext = null;
    if (target.next) {
      const next = target.next;
      const onLoad = () => {
        this._cancelNext?.();
        this._cancelNext = null;
        frame.setAttribute('src', next);
      };
      frame.addEventListener('load', onLoad);
      this._cancelNext = () => frame.removeEventListener('load', onLoad);
    }
    this.content.url = target.url;
  }

  private _showMessage(text: string): void {
    this._cancelNext?.();
    this._cancelNext = null;
    this.content.url = 'about:blank';
    this.content.node.hidden = true;
    if (!this._message) {
      this._message = document.createElement('div');
      this._message.className = 'jp-RemoteApp-gone';
      this.node.appendChild(this._message);
    }
    this._message.textContent = text;
  }

  private _trans: TranslationBundle;
  private _locate: (container: IContainer) => Promise<IFrameTarget>;
  private _askClose?: (tab: RemoteAppTab) => Promise<boolean>;
  private _onError?: (summary: string, error: unknown) => void;
  private _container: IContainer | null = null;
  private _last: IContainer | null = null;
  private _gone = false;
  private _closing = false;
  private _request = 0;
  private _cancelNext: (() => void) | null = null;
  private _message: HTMLElement | null = null;
  private _warning: Widget | null = null;
}

export namespace RemoteAppTab {
  export interface IOptions {
    urlId: string;
    trans: TranslationBundle;
    /** What the frame loads for a container (a fresh ticket URL). */
    locate: (container: IContainer) => Promise<IFrameTarget>;
    label?: string;
    /** The owner, when it is not the current user (an admin's tab). */
    owner?: string | null;
    /** Decide what closing the tab does; resolves true to close it. */
    askClose?: (tab: RemoteAppTab) => Promise<boolean>;
    /** Report an error (a notification). */
    onError?: (summary: string, error: unknown) => void;
  }
}
