/**
 * Unit tests of the way into an app: tickets (and the fallback of servers
 * without them), the app tab's frame, the isolation warning, `GET me` asked
 * once. Only the server's `fetch` is faked.
 */
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { isMissingEndpoint, RemoteAppRequestError } from '../api';
import { isolationWarning } from '../commands';
import { containerViewURL, RemoteAppsModel } from '../model';
import { IContainer, IFrameTarget, IMe } from '../tokens';
import { APP_SANDBOX, RemoteAppTab } from '../widgets/apptab';

const trans = nullTranslator.load('remoteapp');
const BASE_URL = 'http://localhost:8888/';
const APPS = 'http://127.0.0.1:8888';

const WEBAPP: IContainer = {
  url_id: 'w1',
  mapping_id: 'm1',
  user: 'alice',
  image: 'remoteapp/demo-webapp:latest',
  ui_name: 'Demo Web App',
  type: 'webapp',
  url: `${APPS}/remoteapp/containers/w1/`,
  status: 'running',
  started_at: '2024-01-01T00:00:00Z'
};
const DESKTOP: IContainer = {
  ...WEBAPP,
  url_id: 'v1',
  type: 'vncapp',
  ui_name: 'Demo Desktop',
  url: `${APPS}/remoteapp/containers/v1/`
};

const ME: IMe = {
  name: 'alice',
  admin: false,
  groups: [],
  scopes: [],
  mode: 'personal',
  apps_origin: APPS,
  apps_isolated: true
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** A model whose server answers `routes` ("METHOD path"), else a JSON 404. */
function modelWith(routes: Record<string, () => Response>): {
  model: RemoteAppsModel;
  requests: Request[];
} {
  const requests: Request[] = [];
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch: async (input: RequestInfo | URL) => {
      const request = input as Request;
      requests.push(request);
      const path = new URL(request.url).pathname.replace('/remoteapp/api/', '');
      const route = routes[`${request.method} ${path}`];
      return route ? route() : json(404, { status: 404, message: 'nope' });
    }
  });
  const model = new RemoteAppsModel({ serverSettings, autoStart: false });
  return { model, requests };
}

const ticket = (urlId: string) => ({
  url: `${APPS}/remoteapp/apps-session?ticket=t-${urlId}`,
  expires_in: 30
});

describe('tickets', () => {
  let model: RemoteAppsModel | null = null;
  afterEach(() => {
    model?.dispose();
    model = null;
  });

  it('puts a fresh ticket in the frame of a web app', async () => {
    const served = modelWith({
      'POST containers/w1/ticket': () => json(200, ticket('w1'))
    });
    model = served.model;
    await expect(model.frameTarget(WEBAPP)).resolves.toEqual({
      url: ticket('w1').url,
      next: null,
      ticketed: true
    });
    await model.frameTarget(WEBAPP);
    // One ticket per use: they are single-use.
    const posts = served.requests.filter(r => r.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(new URL(posts[0].url).pathname).toBe(
      '/remoteapp/api/containers/w1/ticket'
    );
  });

  it("goes on to noVNC's page on the apps origin after the ticket", async () => {
    model = modelWith({
      'POST containers/v1/ticket': () => json(200, ticket('v1'))
    }).model;
    const target = await model.frameTarget(DESKTOP);
    expect(target.url).toBe(ticket('v1').url);
    // noVNC's `path` is the path on the apps origin, not the whole URL.
    expect(target.next).toBe(
      `${APPS}/remoteapp/containers/v1/vnc.html?autoconnect=true` +
        '&resize=scale&reconnect=true&path=' +
        encodeURIComponent('remoteapp/containers/v1/websockify')
    );
    expect(containerViewURL(DESKTOP)).toBe(target.next);
  });

  it('falls back to the plain URL on a server without tickets', async () => {
    const old = { ...WEBAPP, url: '/remoteapp/containers/w1/' };
    model = modelWith({
      // Jupyter's own page for an unknown URL: not the API's JSON error.
      'POST containers/w1/ticket': () =>
        new Response('<html><title>404: Not Found</title></html>', {
          status: 404,
          statusText: 'Not Found'
        })
    }).model;
    await expect(model.frameTarget(old)).resolves.toEqual({
      url: '/remoteapp/containers/w1/',
      next: null,
      ticketed: false
    });
  });

  it('does not fall back when the container is gone', async () => {
    // The API's own 404: the container is unknown.
    model = modelWith({}).model;
    const error = await model.frameTarget(WEBAPP).catch(e => e);
    expect(error).toBeInstanceOf(RemoteAppRequestError);
    expect(error.isNotFound).toBe(true);
    expect(isMissingEndpoint(error)).toBe(false);
  });

  it('tells a missing endpoint from other errors', () => {
    expect(isMissingEndpoint(new RemoteAppRequestError('x', 404, 'x'))).toBe(
      true
    );
    expect(isMissingEndpoint(new RemoteAppRequestError('x', 405, null))).toBe(
      true
    );
    expect(
      isMissingEndpoint(
        new RemoteAppRequestError('x', 404, { status: 404, message: 'x' })
      )
    ).toBe(false);
    expect(isMissingEndpoint(new RemoteAppRequestError('x', 403, null))).toBe(
      false
    );
    expect(isMissingEndpoint(new Error('x'))).toBe(false);
  });

  it('asks GET me once for every plugin', async () => {
    const served = modelWith({
      'GET me': () => json(200, ME),
      'GET applications': () => json(200, []),
      'GET containers': () => json(200, [])
    });
    model = served.model;
    const [a, b] = await Promise.all([model.getMe(), model.getMe()]);
    await model.refresh();
    await model.refresh();
    expect(a).toEqual(ME);
    expect(b).toBe(a);
    expect(model.me).toEqual(ME);
    const asked = served.requests.filter(r =>
      new URL(r.url).pathname.endsWith('/api/me')
    );
    expect(asked).toHaveLength(1);
  });

  it('asks GET me again after a failure', async () => {
    let fail = true;
    model = modelWith({
      'GET me': () =>
        fail ? json(500, { status: 500, message: 'boom' }) : json(200, ME)
    }).model;
    await expect(model.getMe()).rejects.toThrow('boom');
    fail = false;
    await expect(model.getMe()).resolves.toEqual(ME);
  });
});

describe('the isolation warning', () => {
  it('names the setting of the mode', () => {
    expect(isolationWarning({ ...ME, apps_isolated: false }, trans)).toContain(
      'c.RemoteApp.apps_url'
    );
    expect(
      isolationWarning({ ...ME, mode: 'hub', apps_isolated: false }, trans)
    ).toContain('c.RemoteAppService.apps_url');
  });

  it('is not there when apps are isolated, or the server does not say', () => {
    expect(isolationWarning(ME, trans)).toBeNull();
    const older: IMe = { ...ME };
    delete older.apps_isolated;
    expect(isolationWarning(older, trans)).toBeNull();
    expect(isolationWarning(null, trans)).toBeNull();
  });
});

describe('RemoteAppTab', () => {
  let tab: RemoteAppTab | null = null;
  afterEach(() => {
    tab?.dispose();
    tab = null;
  });

  function openTab(
    locate: (container: IContainer) => Promise<IFrameTarget>,
    owner?: string
  ): RemoteAppTab {
    tab = new RemoteAppTab({ urlId: 'v1', trans, locate, owner });
    Widget.attach(tab, document.body);
    return tab;
  }

  it('loads the ticket, then the page below it', async () => {
    let n = 0;
    const t = openTab(async () => ({
      url: `${APPS}/remoteapp/apps-session?ticket=${++n}`,
      next: `${APPS}/remoteapp/containers/v1/vnc.html`,
      ticketed: true
    }));
    await t.showContainer(DESKTOP);
    expect(t.frame.getAttribute('src')).toBe(
      `${APPS}/remoteapp/apps-session?ticket=1`
    );
    expect(t.frame.getAttribute('sandbox')).toBe(APP_SANDBOX.join(' '));
    t.frame.dispatchEvent(new Event('load'));
    expect(t.frame.getAttribute('src')).toBe(
      `${APPS}/remoteapp/containers/v1/vnc.html`
    );
    // Only once: later loads (the app navigating) are the app's business.
    t.frame.setAttribute('src', 'x');
    t.frame.dispatchEvent(new Event('load'));
    expect(t.frame.getAttribute('src')).toBe('x');
    // A reload asks for a fresh ticket.
    await t.reload();
    expect(t.frame.getAttribute('src')).toBe(
      `${APPS}/remoteapp/apps-session?ticket=2`
    );
    expect(t.title.label).toBe('Demo Desktop');
  });

  it("labels someone else's app with its owner", async () => {
    const t = openTab(
      async () => ({ url: 'about:blank#t', next: null, ticketed: true }),
      'bob'
    );
    await t.showContainer({ ...DESKTOP, user: 'bob' });
    expect(t.title.label).toBe('Demo Desktop (bob)');
    expect(t.id).toBe('remoteapp-admin-v1');
  });

  it('shows the gone message when the ticket is refused with 404', async () => {
    const t = openTab(async () => {
      throw new RemoteAppRequestError('nope', 404, {
        status: 404,
        message: 'nope'
      });
    });
    await t.showContainer(DESKTOP);
    expect(t.isGone).toBe(true);
    expect(t.node.querySelector('.jp-RemoteApp-gone')?.textContent).toContain(
      'not running any more'
    );
  });

  it('shows a warning above the frame, as text', () => {
    const t = openTab(async () => ({ url: '', next: null, ticketed: false }));
    t.setWarning('<b>apps on the Lab origin</b>');
    const node = t.node.querySelector('.jp-RemoteApp-warning')!;
    expect(node.textContent).toBe('<b>apps on the Lab origin</b>');
    expect(node.querySelector('b')).toBeNull();
    t.setWarning(null);
    expect(t.node.querySelector('.jp-RemoteApp-warning')).toBeNull();
  });
});
