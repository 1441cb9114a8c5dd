/**
 * A main-area tab showing a running container in an iframe.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { IFrame } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';

import { IContainer } from '../tokens';

/**
 * The iframe sandbox of an application tab.
 *
 * The container is served by the Lab server itself (same origin, behind the
 * Lab session cookie), so `allow-same-origin` + `allow-scripts` together
 * give the app's scripts the Lab origin: a hostile image could call the
 * Jupyter API as the user. We accept that because images are registered by
 * an admin (trusted like a server extension) and noVNC needs both (it opens
 * a WebSocket back to its origin and keeps settings in localStorage).
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
    this._trans = options.trans;
    this._askClose = options.askClose;
    this.id = `remoteapp-${options.urlId}`;
    this.addClass('jp-RemoteApp-tab');
    this.content.addClass('jp-RemoteApp-frame');
    this.title.closable = true;
    this.title.label = options.label ?? this._trans.__('Remote app');
  }

  /** The container this tab shows. */
  readonly urlId: string;

  /** The container shown, null before it is known or when it is gone. */
  get container(): IContainer | null {
    return this._container;
  }

  /** Whether the container is gone (the tab shows a message). */
  get isGone(): boolean {
    return this._gone;
  }

  /**
   * Show the container at `url` (an absolute path on the Lab origin).
   */
  showContainer(container: IContainer, url: string): void {
    this._container = container;
    this._gone = false;
    this.title.label = container.ui_name;
    this.title.caption = this._trans.__(
      '%1 (%2), started %3',
      container.ui_name,
      container.image,
      container.started_at
    );
    this._message?.remove();
    this._message = null;
    this.content.node.hidden = false;
    if (this.content.url !== url) {
      this.content.url = url;
    }
  }

  /**
   * Replace the frame by a message: the container does not exist any more.
   */
  showGone(message: string): void {
    this._gone = true;
    this._container = null;
    this.content.url = 'about:blank';
    this.content.node.hidden = true;
    if (!this._message) {
      this._message = document.createElement('div');
      this._message.className = 'jp-RemoteApp-gone';
      this.node.appendChild(this._message);
    }
    this._message.textContent = message;
  }

  /** Reload the frame. */
  reload(): void {
    const url = this.content.url;
    this.content.url = 'about:blank';
    requestAnimationFrame(() => {
      this.content.url = url;
    });
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

  private _trans: TranslationBundle;
  private _askClose?: (tab: RemoteAppTab) => Promise<boolean>;
  private _container: IContainer | null = null;
  private _gone = false;
  private _closing = false;
  private _message: HTMLElement | null = null;
}

export namespace RemoteAppTab {
  export interface IOptions {
    urlId: string;
    trans: TranslationBundle;
    label?: string;
    /** Decide what closing the tab does; resolves true to close it. */
    askClose?: (tab: RemoteAppTab) => Promise<boolean>;
  }
}
