/**
 * Unit tests of the plugin activation (src/index.ts).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';

import plugins from '../index';
import { IRemoteApps } from '../tokens';

const BASE_URL = 'http://localhost:8888/';

function fakeApp(respond: () => Promise<Response>): JupyterFrontEnd {
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch: () => respond()
  });
  return { serviceManager: { serverSettings } } as unknown as JupyterFrontEnd;
}

/** Let the request started by the activation settle. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('remoteapp:plugin', () => {
  const plugin = plugins[0];
  let log: jest.SpyInstance;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  let model: IRemoteApps | null = null;

  afterEach(() => {
    // Stop the model's poll.
    model?.dispose();
    model = null;
    jest.restoreAllMocks();
  });

  it('starts automatically, needs nothing and provides the model', () => {
    expect(plugin.id).toBe('remoteapp:plugin');
    expect(plugin.provides).toBe(IRemoteApps);
    expect(plugin.autoStart).toBe(true);
    expect(plugin.requires ?? []).toHaveLength(0);
  });

  it('logs the activation and the current user', async () => {
    const app = fakeApp(
      async () =>
        new Response(
          JSON.stringify({
            name: 'alice',
            admin: true,
            groups: [],
            scopes: [],
            mode: 'personal'
          }),
          { status: 200 }
        )
    );

    model = plugin.activate(app, null, null) as IRemoteApps;
    expect(log).toHaveBeenCalledWith('remoteapp is activated');
    await flush();
    expect(log).toHaveBeenCalledWith(
      'remoteapp: signed in as alice (admin: true, mode: personal)'
    );
    expect(warn).not.toHaveBeenCalled();
  });

  it('only warns when the server extension is missing (404)', async () => {
    const app = fakeApp(
      async () =>
        new Response('Not Found', { status: 404, statusText: 'Not Found' })
    );

    expect(() => {
      model = plugin.activate(app, null, null) as IRemoteApps;
    }).not.toThrow();
    await flush();
    expect(warn).toHaveBeenCalledWith(
      'remoteapp: the server extension is not available (Not Found)'
    );
  });

  it('warns on other errors', async () => {
    const app = fakeApp(
      async () =>
        new Response(JSON.stringify({ message: 'boom' }), { status: 500 })
    );

    model = plugin.activate(app, null, null) as IRemoteApps;
    await flush();
    expect(warn).toHaveBeenCalledWith(
      'remoteapp: cannot get the current user',
      expect.objectContaining({ status: 500, message: 'boom' })
    );
  });
});
