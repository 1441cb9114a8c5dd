/**
 * Unit tests of the embedded desktop client: the RFB view's status and
 * reconnect (each connection a fresh ticket), the app tab's choice between
 * the RFB client and the frame (the `vncClient` setting, the fallback of
 * images without websockify), and the WebSocket ticket request. noVNC itself
 * is replaced by a fake RFB object; the server's `fetch` is faked.
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { RemoteAppRequestError } from '../api';
import { RemoteAppsModel } from '../model';
import { IContainer } from '../tokens';
import { RemoteAppTab } from '../widgets/apptab';
import { IRfb, RfbFactory, RfbView } from '../widgets/rfbview';

const trans = nullTranslator.load('remoteapp');
const APPS = 'http://127.0.0.1:8888';

const DESKTOP: IContainer = {
  url_id: 'v1',
  mapping_id: 'm1',
  user: 'alice',
  image: 'remoteapp/demo-vnc:latest',
  ui_name: 'Demo Desktop',
  type: 'vncapp',
  url: `${APPS}/remoteapp/containers/v1/`,
  status: 'running',
  started_at: '2024-01-01T00:00:00Z'
};

/** A fake of noVNC's RFB object. */
class FakeRfb extends EventTarget implements IRfb {
  constructor(
    readonly target: HTMLElement,
    readonly url: string
  ) {
    super();
  }
  scaleViewport = false;
  resizeSession = true;
  focusOnClick = false;
  background = '';
  focused = 0;
  closed = false;
  disconnect(): void {
    this.closed = true;
  }
  focus(): void {
    this.focused++;
  }
  blur(): void {
    // nothing
  }
  emit(type: string, detail: unknown = {}): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function fakeFactory(): { factory: RfbFactory; made: FakeRfb[] } {
  const made: FakeRfb[] = [];
  const factory: RfbFactory = (target, url) => {
    const rfb = new FakeRfb(target, url);
    made.push(rfb);
    return rfb;
  };
  return { factory, made };
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

function statusText(node: HTMLElement): string {
  return node.querySelector('.jp-RemoteApp-rfbStatus span')!.textContent ?? '';
}

describe('RfbView', () => {
  let view: RfbView | null = null;
  afterEach(() => {
    view?.dispose();
    view = null;
  });

  it('connects with a fresh ticket each time and shows its status', async () => {
    const { factory, made } = fakeFactory();
    view = new RfbView({ trans, factory });
    Widget.attach(view, document.body);
    let n = 0;
    await view.connect(
      async () => `ws://apps/websockify?remoteapp-ticket=${++n}`
    );
    expect(view.status).toBe('connecting');
    expect(statusText(view.node)).toBe('Connecting…');
    expect(made[0].url).toBe('ws://apps/websockify?remoteapp-ticket=1');
    expect(made[0].scaleViewport).toBe(true);
    made[0].emit('connect');
    expect(view.status).toBe('connected');
    expect(statusText(view.node)).toBe('Connected');
    expect(made[0].focused).toBe(1); // the keyboard goes to the desktop
    const button = view.node.querySelector('button')!;
    expect(button.hidden).toBe(true);
    // Lab shortcuts skip key events from the desktop
    expect(
      view.node
        .querySelector('.jp-RemoteApp-rfbScreen')!
        .getAttribute('data-lm-suppress-shortcuts')
    ).toBe('true');

    made[0].emit('disconnect', { clean: false });
    expect(view.status).toBe('disconnected');
    expect(statusText(view.node)).toContain('lost');
    expect(button.hidden).toBe(false);
    button.click();
    await tick();
    expect(made).toHaveLength(2);
    expect(made[1].url).toBe('ws://apps/websockify?remoteapp-ticket=2');
    // the old client's late events change nothing
    made[0].emit('connect');
    expect(view.status).toBe('connecting');
    made[1].emit('connect');
    expect(view.status).toBe('connected');
    view.dispose();
    expect(made[1].closed).toBe(true);
  });

  it('reports a failed ticket request', async () => {
    const { factory } = fakeFactory();
    view = new RfbView({ trans, factory });
    const errors: string[] = [];
    view.onError = summary => errors.push(summary);
    await view.connect(async () => {
      throw new Error('no ticket');
    });
    expect(view.status).toBe('disconnected');
    expect(errors).toEqual(['Cannot connect to the desktop']);
  });
});

describe('RemoteAppTab with a desktop', () => {
  let tab: RemoteAppTab | null = null;
  afterEach(() => {
    tab?.dispose();
    tab = null;
  });

  function openTab(
    vncClient: 'embedded' | 'framed',
    websocketURL: (c: IContainer) => Promise<string>
  ) {
    const { factory, made } = fakeFactory();
    const located: string[] = [];
    tab = new RemoteAppTab({
      urlId: 'v1',
      trans,
      locate: async c => {
        located.push(c.url_id);
        return {
          url: `${APPS}/remoteapp/apps-session?ticket=f`,
          next: null,
          ticketed: true
        };
      },
      websocketURL,
      vncClient: () => vncClient,
      rfbFactory: factory
    });
    Widget.attach(tab, document.body);
    return { tab, made, located };
  }

  it('embeds the RFB client: no frame, no frame ticket', async () => {
    const { tab, made, located } = openTab('embedded', async () => 'ws://t');
    await tab.showContainer(DESKTOP);
    await tick();
    expect(tab.rfb).not.toBeNull();
    expect(located).toEqual([]);
    expect(made[0].url).toBe('ws://t');
    expect(tab.frame.getAttribute('src')).toBe('about:blank');
    made[0].emit('connect');
    // a later drop shows "disconnected", it does not switch to the frame
    made[0].emit('disconnect', { clean: false });
    expect(tab.rfb!.status).toBe('disconnected');
    expect(located).toEqual([]);
  });

  it('frames the desktop when the setting says so', async () => {
    const { tab, made, located } = openTab('framed', async () => 'ws://t');
    await tab.showContainer(DESKTOP);
    expect(tab.rfb).toBeNull();
    expect(made).toHaveLength(0);
    expect(located).toEqual(['v1']);
  });

  it('falls back to the frame when the first connection fails at once', async () => {
    const { tab, made, located } = openTab('embedded', async () => 'ws://t');
    await tab.showContainer(DESKTOP);
    await tick();
    made[0].emit('disconnect', { clean: false });
    await tick();
    expect(tab.rfb).toBeNull();
    expect(located).toEqual(['v1']);
    expect(tab.frame.getAttribute('src')).toBe(
      `${APPS}/remoteapp/apps-session?ticket=f`
    );
    // and stays framed on reload
    await tab.reload();
    expect(made).toHaveLength(1);
  });

  it('shows the gone message when the WebSocket ticket is refused with 404', async () => {
    const { tab } = openTab('embedded', async () => {
      throw new RemoteAppRequestError('nope', 404, {
        status: 404,
        message: 'nope'
      });
    });
    await tab.showContainer(DESKTOP);
    await tick();
    expect(tab.isGone).toBe(true);
  });
});

describe('the WebSocket ticket', () => {
  it('asks for purpose "websocket" and answers websocket_url', async () => {
    const bodies: string[] = [];
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      fetch: async (input: RequestInfo | URL) => {
        const request = input as Request;
        bodies.push(await request.text());
        return new Response(
          JSON.stringify({
            websocket_url:
              'ws://127.0.0.1:8888/x/websockify?remoteapp-ticket=T',
            expires_in: 30
          }),
          { status: 200, headers: { 'Content-Type': 'application/json' } }
        );
      }
    });
    const model = new RemoteAppsModel({ serverSettings, autoStart: false });
    await expect(model.websocketURL(DESKTOP)).resolves.toBe(
      'ws://127.0.0.1:8888/x/websockify?remoteapp-ticket=T'
    );
    expect(JSON.parse(bodies[0])).toEqual({ purpose: 'websocket' });
    model.dispose();
  });
});
