/**
 * Unit tests of the plugin activation (src/index.ts).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';

import plugins from '../index';

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

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('starts automatically and needs nothing', () => {
    expect(plugin.id).toBe('remoteapp:plugin');
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
            scopes: [],
            mode: 'standalone'
          }),
          { status: 200 }
        )
    );

    plugin.activate(app, null, null);
    expect(log).toHaveBeenCalledWith('remoteapp is activated');
    await flush();
    expect(log).toHaveBeenCalledWith(
      'remoteapp: signed in as alice (admin: true, mode: standalone)'
    );
    expect(warn).not.toHaveBeenCalled();
  });

  it('only warns when the server extension is missing (404)', async () => {
    const app = fakeApp(
      async () =>
        new Response('Not Found', { status: 404, statusText: 'Not Found' })
    );

    expect(() => plugin.activate(app, null, null)).not.toThrow();
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

    plugin.activate(app, null, null);
    await flush();
    expect(warn).toHaveBeenCalledWith(
      'remoteapp: cannot get the current user',
      expect.objectContaining({ status: 500, message: 'boom' })
    );
  });
});
