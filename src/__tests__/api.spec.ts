/**
 * Unit tests of the REST client (src/api.ts).
 */
import { ServerConnection } from '@jupyterlab/services';

import { apiURL, RemoteAppRequestError, requestAPI } from '../api';
import { IMe, PLUGIN_ID } from '../tokens';

const BASE_URL = 'http://localhost:8888/user/alice/';

/**
 * Server settings whose `fetch` answers with `respond` and records requests.
 */
function makeSettings(respond: (request: Request) => Promise<Response>): {
  settings: ServerConnection.ISettings;
  requests: Request[];
} {
  const requests: Request[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    token: 'secret',
    fetch: (input: RequestInfo | URL) => {
      const request = input as Request;
      requests.push(request);
      return respond(request);
    }
  });
  return { settings, requests };
}

/**
 * The RemoteAppRequestError a request fails with.
 */
async function failure(
  request: Promise<unknown>
): Promise<RemoteAppRequestError> {
  try {
    await request;
  } catch (error) {
    expect(error).toBeInstanceOf(RemoteAppRequestError);
    return error as RemoteAppRequestError;
  }
  throw new Error('the request did not fail');
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('tokens', () => {
  it('uses the plugin id of the settings schema', () => {
    expect(PLUGIN_ID).toBe('remoteapp:plugin');
  });
});

describe('apiURL', () => {
  it('joins the base URL, the API namespace and the endpoint', () => {
    const { settings } = makeSettings(async () => jsonResponse(200, {}));
    expect(apiURL('me', settings)).toBe(`${BASE_URL}remoteapp/api/me`);
    expect(apiURL('containers/abc', settings)).toBe(
      `${BASE_URL}remoteapp/api/containers/abc`
    );
  });
});

describe('requestAPI', () => {
  it('returns the parsed JSON body', async () => {
    const me: IMe = {
      name: 'alice',
      admin: false,
      groups: [],
      scopes: ['custom:remoteapp:user'],
      mode: 'personal'
    };
    const { settings, requests } = makeSettings(async () =>
      jsonResponse(200, me)
    );

    await expect(requestAPI<IMe>('me', {}, settings)).resolves.toEqual(me);
    expect(requests).toHaveLength(1);
    // ServerConnection adds a cache buster (`?<time>`) to the URL.
    expect(requests[0].url.split('?')[0]).toBe(`${BASE_URL}remoteapp/api/me`);
    expect(requests[0].method).toBe('GET');
    expect(requests[0].headers.get('Authorization')).toBe('token secret');
  });

  it('sends the method and the body', async () => {
    const { settings, requests } = makeSettings(async () =>
      jsonResponse(201, { url_id: 'abc' })
    );

    const body = JSON.stringify({ mapping_id: 'm1' });
    await expect(
      requestAPI('containers', { method: 'POST', body }, settings)
    ).resolves.toEqual({ url_id: 'abc' });
    expect(requests[0].method).toBe('POST');
    await expect(requests[0].text()).resolves.toBe(body);
  });

  it('returns undefined for an empty body', async () => {
    const { settings } = makeSettings(
      async () => new Response(null, { status: 204 })
    );

    await expect(
      requestAPI('containers/abc', { method: 'DELETE' }, settings)
    ).resolves.toBeUndefined();
  });

  it('raises the status and the JSON message of the server', async () => {
    const { settings } = makeSettings(async () =>
      jsonResponse(403, { message: 'Not allowed to start this application' })
    );

    const error = await failure(requestAPI('containers', {}, settings));
    expect(error.status).toBe(403);
    expect(error.message).toBe('Not allowed to start this application');
    expect(error.isNotFound).toBe(false);
    expect(error.body).toEqual({
      message: 'Not allowed to start this application'
    });
  });

  it('tolerates a 404 with an HTML body', async () => {
    const { settings } = makeSettings(
      async () =>
        new Response('<html>404: Not Found</html>', {
          status: 404,
          statusText: 'Not Found'
        })
    );

    const error = await failure(requestAPI('me', {}, settings));
    expect(error.status).toBe(404);
    expect(error.isNotFound).toBe(true);
    expect(error.message).toBe('Not Found');
  });

  it('raises status 0 when the server cannot be reached', async () => {
    const { settings } = makeSettings(async () => {
      throw new TypeError('Failed to fetch');
    });

    const error = await failure(requestAPI('me', {}, settings));
    expect(error.status).toBe(0);
    expect(error.message).toContain('Failed to fetch');
  });
});
