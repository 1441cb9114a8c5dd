/**
 * A desktop app in the Lab's page: noVNC's RFB client (`@novnc/novnc`)
 * draws the remote screen on a canvas here, and only its WebSocket goes to
 * the apps origin (`<app url>websockify`, with a one-time ticket each time).
 * No script of the app runs in the Lab: the container sends RFB bytes only.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

/** What the view shows: connecting, connected, or disconnected. */
export type RfbStatus = 'connecting' | 'connected' | 'disconnected';

/** The part of noVNC's RFB object used here (see src/novnc.d.ts). */
export interface IRfb extends EventTarget {
  scaleViewport: boolean;
  resizeSession: boolean;
  focusOnClick: boolean;
  background: string;
  disconnect(): void;
  focus(options?: FocusOptions): void;
  blur(): void;
}

/** Makes an RFB client on `target` for WebSocket `url`. */
export type RfbFactory = (target: HTMLElement, url: string) => IRfb;

/**
 * noVNC's RFB client, loaded when the first desktop is shown (a chunk of
 * its own: noVNC is an ES module with top-level await).
 */
export async function loadRfb(): Promise<RfbFactory> {
  const { default: RFB } = await import('@novnc/novnc');
  return (target, url) => new RFB(target, url, { wsProtocols: ['binary'] });
}

/**
 * The RFB canvas and a status line (with a reconnect button).
 */
export class RfbView extends Widget {
  constructor(options: RfbView.IOptions) {
    super();
    this._trans = options.trans;
    this._factory = options.factory ?? null;
    this.addClass('jp-RemoteApp-rfb');
    this._status = document.createElement('div');
    this._status.className = 'jp-RemoteApp-rfbStatus';
    this._status.setAttribute('role', 'status');
    this._statusText = document.createElement('span');
    this._statusText.className = 'jp-RemoteApp-rfbStatusText';
    this._status.appendChild(this._statusText);
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-Button jp-mod-styled jp-mod-accept';
    this._button.textContent = this._trans.__('Reconnect');
    this._button.addEventListener('click', () => this.reconnect());
    this._status.appendChild(this._button);
    this._screen = document.createElement('div');
    this._screen.className = 'jp-RemoteApp-rfbScreen';
    // The desktop gets its keys: JupyterLab's shortcuts (Lumino's command
    // registry) skip key events from inside this element. Keys the browser
    // keeps for itself (Ctrl+W, Ctrl+T, Ctrl+N) cannot be taken from it.
    this._screen.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.node.appendChild(this._status);
    this.node.appendChild(this._screen);
    this._setStatus('disconnected');
  }

  /** The connection's state. */
  get status(): RfbStatus {
    return this._statusValue;
  }

  /**
   * Called when a connection attempt fails before it was ever connected
   * (e.g. the image has no websockify endpoint); false keeps this view.
   */
  onNeverConnected: ((reason: string) => boolean) | null = null;

  /** Called on every status change. */
  onStatus: ((status: RfbStatus) => void) | null = null;

  /** Called with the error of a failed ticket request. */
  onError: ((summary: string, error: unknown) => void) | null = null;

  /**
   * Connect with a fresh WebSocket URL from `getURL` (a one-time ticket),
   * closing any earlier connection.
   */
  async connect(getURL: () => Promise<string>): Promise<void> {
    this._getURL = getURL;
    const attempt = ++this._attempt;
    this._close();
    this._setStatus('connecting');
    let url: string;
    let factory: RfbFactory;
    try {
      factory = this._factory ?? (this._factory = await loadRfb());
      url = await getURL();
    } catch (error) {
      if (attempt === this._attempt && !this.isDisposed) {
        this._setStatus('disconnected', String(error));
        this.onError?.(this._trans.__('Cannot connect to the desktop'), error);
      }
      return;
    }
    if (attempt !== this._attempt || this.isDisposed) {
      return;
    }
    const rfb = factory(this._screen, url);
    rfb.scaleViewport = true; // the session keeps the size chosen at start
    rfb.resizeSession = false;
    rfb.focusOnClick = true;
    rfb.background = 'var(--jp-layout-color2)';
    rfb.addEventListener('connect', () => {
      if (rfb === this._rfb) {
        this._everConnected = true;
        this._setStatus('connected');
        if (this.isVisible) {
          rfb.focus({ preventScroll: true });
        }
      }
    });
    rfb.addEventListener('disconnect', event => {
      if (rfb !== this._rfb) {
        return;
      }
      this._rfb = null;
      const clean = (event as CustomEvent<{ clean?: boolean }>).detail?.clean;
      const reason = clean
        ? this._trans.__('The desktop closed the connection.')
        : this._trans.__('The connection to the desktop was lost.');
      if (!this._everConnected && this.onNeverConnected?.(reason)) {
        return;
      }
      this._setStatus('disconnected', reason);
    });
    rfb.addEventListener('securityfailure', event => {
      const detail = (event as CustomEvent<{ reason?: string }>).detail;
      this._failure = detail?.reason ?? '';
    });
    this._rfb = rfb;
  }

  /** Connect again (with a fresh ticket). */
  reconnect(): void {
    if (this._getURL) {
      void this.connect(this._getURL);
    }
  }

  /** Close the connection. */
  disconnect(): void {
    ++this._attempt;
    this._close();
    this._setStatus('disconnected');
  }

  /** Give the desktop the keyboard. */
  focus(): void {
    this._rfb?.focus({ preventScroll: true });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    ++this._attempt;
    this._close();
    super.dispose();
  }

  protected onActivateRequest(msg: Message): void {
    this.focus();
  }

  protected onAfterShow(msg: Message): void {
    this.focus();
  }

  protected onBeforeHide(msg: Message): void {
    this._rfb?.blur();
  }

  private _close(): void {
    const rfb = this._rfb;
    this._rfb = null;
    if (rfb) {
      try {
        rfb.disconnect();
      } catch (error) {
        console.warn('remoteapp: closing the RFB connection', error);
      }
    }
    this._screen.replaceChildren();
  }

  private _setStatus(status: RfbStatus, detail = ''): void {
    this._statusValue = status;
    this.node.dataset.status = status;
    this._status.dataset.status = status;
    const failure = this._failure;
    this._failure = '';
    let text: string;
    switch (status) {
      case 'connecting':
        text = this._trans.__('Connecting…');
        break;
      case 'connected':
        text = this._trans.__('Connected');
        break;
      default:
        text = this._trans.__('Disconnected');
        if (failure) {
          text = this._trans.__('%1: %2', text, failure);
        } else if (detail) {
          text = this._trans.__('%1: %2', text, detail);
        }
    }
    this._statusText.textContent = text;
    this._button.hidden = status !== 'disconnected' || !this._getURL;
    this.onStatus?.(status);
  }

  private _trans: TranslationBundle;
  private _factory: RfbFactory | null;
  private _rfb: IRfb | null = null;
  private _getURL: (() => Promise<string>) | null = null;
  private _attempt = 0;
  private _everConnected = false;
  private _failure = '';
  private _statusValue: RfbStatus = 'disconnected';
  private _status: HTMLElement;
  private _statusText: HTMLElement;
  private _button: HTMLButtonElement;
  private _screen: HTMLElement;
}

export namespace RfbView {
  export interface IOptions {
    trans: TranslationBundle;
    /** Makes the RFB client (tests); default: noVNC's. */
    factory?: RfbFactory;
  }
}
