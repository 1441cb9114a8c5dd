/**
 * A main-area tab showing a running container: a web app in an iframe of
 * the apps origin; a desktop app with noVNC's RFB client in the Lab's page
 * (its WebSocket to the apps origin), or framed like a web app.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IFrame } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { RemoteAppRequestError } from '../api';
import { IContainer, IFrameTarget } from '../tokens';
import { RfbFactory, RfbView } from './rfbview';

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
export class RemoteAppTab extends MainAreaWidget<Panel> {
  constructor(options: RemoteAppTab.IOptions) {
    const content = new Panel();
    content.addClass('jp-RemoteApp-content');
    super({ content });
    this._frame = new IFrame({
      sandbox: APP_SANDBOX,
      referrerPolicy: 'same-origin'
    });
    this._frame.addClass('jp-RemoteApp-frame');
    content.addWidget(this._frame);
    this._websocketURL = options.websocketURL;
    this._vncClient = options.vncClient;
    this._rfbFactory = options.rfbFactory;
    this.urlId = options.urlId;
    this.owner = options.owner ?? null;
    this._last = options.container ?? null;
    this._trans = options.trans;
    this._locate = options.locate;
    this._askClose = options.askClose;
    this._onError = options.onError;
    this.id = this.owner
      ? `remoteapp-admin-${options.urlId}`
      : `remoteapp-${options.urlId}`;
    this.addClass('jp-RemoteApp-tab');
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
    return this._frame.node.querySelector('iframe')!;
  }

  /** The embedded RFB client's view, while a desktop is shown with it. */
  get rfb(): RfbView | null {
    return this._rfb;
  }

  /**
   * Whether `container` is shown with the Lab's own RFB client: a desktop
   * app, the setting says `embedded`, and it did not fail at once before.
   */
  private _embeds(container: IContainer): boolean {
    return (
      container.type === 'vncapp' &&
      !!this._websocketURL &&
      (this._vncClient?.() ?? 'embedded') === 'embedded' &&
      !this._fallback.has(container.url_id)
    );
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
    if (this._embeds(container)) {
      this._message?.remove();
      this._message = null;
      this._showRfb(container);
      return;
    }
    this._hideRfb();
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
    this._frame.node.hidden = false;
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
    this._warning = this._banner(this._warning, text, 'jp-RemoteApp-warning');
  }

  /** The warning shown above the frame, or null. */
  get warning(): string | null {
    return this._warning?.node.textContent ?? null;
  }

  /**
   * Show (text) or hide (null) a hint above the frame, e.g. what to do when
   * the browser denies the framed app its storage.
   */
  setHint(text: string | null): void {
    this._hint = this._banner(this._hint, text, 'jp-RemoteApp-hint');
  }

  /** The hint shown above the frame, or null. */
  get hint(): string | null {
    return this._hint?.node.textContent ?? null;
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
    this._frame.url = target.url;
  }

  /** Show `container` with the RFB client (each connection a fresh ticket). */
  private _showRfb(container: IContainer): void {
    this._cancelNext?.();
    this._cancelNext = null;
    this._frame.url = 'about:blank';
    this._frame.node.hidden = true;
    if (!this._rfb) {
      const view = new RfbView({
        trans: this._trans,
        factory: this._rfbFactory
      });
      this.content.addWidget(view);
      this._rfb = view;
    }
    const view = this._rfb;
    view.node.hidden = false;
    const urlId = container.url_id;
    view.onNeverConnected = reason => {
      // No websockify endpoint (or no RFB behind it): the image's own page.
      console.warn(
        `remoteapp: the desktop ${urlId} refused the RFB client (${reason}); showing its page in a frame`
      );
      this._fallBack(container);
      return true;
    };
    view.onError = (summary, error) => {
      if (error instanceof RemoteAppRequestError && error.isNotFound) {
        this.showGone();
      } else if (
        view.status !== 'connected' &&
        !this._everConnected.has(urlId)
      ) {
        // e.g. a server without WebSocket tickets: the framed page
        console.warn(`remoteapp: no WebSocket ticket for ${urlId}`, error);
        this._fallBack(container);
      } else {
        this._onError?.(summary, error);
      }
    };
    view.onStatus = status => {
      if (status === 'connected') {
        // once connected, later failures show "disconnected", not the frame
        this._everConnected.add(urlId);
      }
    };
    const websocketURL = this._websocketURL!;
    void view.connect(() => websocketURL(container));
  }

  /** Show `container` framed from now on (this tab). */
  private _fallBack(container: IContainer): void {
    this._fallback.add(container.url_id);
    if (this._container?.url_id === container.url_id && !this._gone) {
      void this.showContainer(container);
    }
  }

  private _hideRfb(): void {
    if (this._rfb) {
      this._rfb.dispose();
      this._rfb = null;
    }
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    this._rfb?.focus();
  }

  /** A line of text above the frame (as text), or none. */
  private _banner(
    widget: Widget | null,
    text: string | null,
    className: string
  ): Widget | null {
    if (!text) {
      widget?.dispose();
      return null;
    }
    if (!widget) {
      widget = new Widget();
      widget.addClass(className);
      widget.node.setAttribute('role', 'note');
      this.contentHeader.addWidget(widget);
    }
    widget.node.textContent = text;
    return widget;
  }

  private _showMessage(text: string): void {
    this._cancelNext?.();
    this._cancelNext = null;
    this._hideRfb();
    this._frame.url = 'about:blank';
    this._frame.node.hidden = true;
    if (!this._message) {
      this._message = document.createElement('div');
      this._message.className = 'jp-RemoteApp-gone';
      this.node.appendChild(this._message);
    }
    this._message.textContent = text;
  }

  private _frame: IFrame;
  private _rfb: RfbView | null = null;
  private _websocketURL?: (container: IContainer) => Promise<string>;
  private _vncClient?: () => 'embedded' | 'framed';
  private _rfbFactory?: RfbFactory;
  private _fallback = new Set<string>();
  private _everConnected = new Set<string>();
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
  private _hint: Widget | null = null;
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
    /** The container, when it is known already (saved with the layout). */
    container?: IContainer | null;
    /** Decide what closing the tab does; resolves true to close it. */
    askClose?: (tab: RemoteAppTab) => Promise<boolean>;
    /** Report an error (a notification). */
    onError?: (summary: string, error: unknown) => void;
    /**
     * A desktop's WebSocket URL with a fresh ticket; without it desktops
     * are framed.
     */
    websocketURL?: (container: IContainer) => Promise<string>;
    /** The `vncClient` setting (default `embedded`). */
    vncClient?: () => 'embedded' | 'framed';
    /** Makes the RFB client (tests); default: noVNC's. */
    rfbFactory?: RfbFactory;
  }
}
