/**
 * Unit tests of the model (src/model.ts) and the progress stream (src/api.ts).
 * Only the server's `fetch` is faked here; the UI tests use the real server.
 */
import { ServerConnection } from '@jupyterlab/services';

import { readServerSentEvents, RemoteAppRequestError } from '../api';
import { containerViewURL, RemoteAppsModel } from '../model';
import { IApplicationEntry, IContainer, IStartProgress } from '../tokens';

// jsdom has no ReadableStream: use Node's (the browser has its own).
declare const require: (name: string) => any;
const { ReadableStream } = require('stream/web');

const BASE_URL = 'http://localhost:8888/';

const CONTAINER: IContainer = {
  url_id: 'u1',
  mapping_id: 'm1',
  user: 'alice',
  image: 'remoteapp/demo-vnc:latest',
  ui_name: 'Demo Desktop',
  type: 'vncapp',
  url: '/user/al%40ice/remoteapp/containers/u1/',
  status: 'running',
  started_at: '2024-01-01T00:00:00Z'
};

const ENTRY: IApplicationEntry = {
  mapping_id: 'm1',
  image: {
    name: 'remoteapp/demo-vnc:latest',
    ui_name: 'Demo Desktop',
    description: 'desktop',
    icon_128: '',
    type: 'vncapp',
    configurables: [{ tag: 'resolution', default: '1024x768' }]
  },
  policy: {
    allow_home: false,
    allow_view: false,
    allow_common: false,
    volume_source: '',
    volume_target: '',
    volume_mode: '',
    app_license: '',
    allow_startup_data: false
  },
  containers: [],
  starting: null
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

function stream(text: string, chunkSize = 7): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller: any) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    }
  }) as unknown as globalThis.ReadableStream<Uint8Array>;
}

function sse(events: [string, unknown][]): Response {
  const text = events
    .map(
      ([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    )
    .join('');
  // The Response of the test environment cannot stream: fake the parts used.
  return {
    ok: true,
    status: 200,
    headers: new Headers({ 'Content-Type': 'text/event-stream' }),
    body: stream(text)
  } as unknown as Response;
}

/** A fake server: `routes` maps "METHOD path" to a response factory. */
function fakeServer(routes: Record<string, (request: Request) => Response>): {
  settings: ServerConnection.ISettings;
  requests: Request[];
} {
  const requests: Request[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    fetch: async (input: RequestInfo | URL) => {
      const request = input as Request;
      requests.push(request);
      const path = new URL(request.url).pathname.replace('/remoteapp/api/', '');
      const route = routes[`${request.method} ${path}`];
      return route
        ? route(request)
        : json(404, { status: 404, message: 'nope' });
    }
  });
  return { settings, requests };
}

const ME = {
  name: 'alice',
  admin: false,
  groups: [],
  scopes: [],
  mode: 'personal'
};

describe('containerViewURL', () => {
  it('opens web apps at their URL', () => {
    expect(containerViewURL({ ...CONTAINER, type: 'webapp' })).toBe(
      CONTAINER.url
    );
  });

  it('opens noVNC with the websockify path in the query', () => {
    const url = containerViewURL(CONTAINER);
    expect(url).toBe(
      '/user/al%40ice/remoteapp/containers/u1/vnc.html?autoconnect=true' +
        '&resize=scale&reconnect=true&path=' +
        encodeURIComponent('user/al%40ice/remoteapp/containers/u1/websockify')
    );
  });
});

describe('readServerSentEvents', () => {
  it('splits events across chunk boundaries', async () => {
    const events = [];
    for await (const event of readServerSentEvents(
      stream(
        ': comment\nevent: progress\ndata: {"a":1}\r\n\r\ndata: x\ndata: y\n\nevent: end\ndata: z',
        3
      )
    )) {
      events.push(event);
    }
    expect(events).toEqual([
      { event: 'progress', data: '{"a":1}' },
      { event: 'message', data: 'x\ny' },
      { event: 'end', data: 'z' }
    ]);
  });
});

describe('RemoteAppsModel', () => {
  let model: RemoteAppsModel | null = null;

  afterEach(() => {
    model?.dispose();
    model = null;
  });

  it('loads me, applications and containers and emits changed once', async () => {
    const { settings } = fakeServer({
      'GET me': () => json(200, ME),
      'GET applications': () => json(200, [ENTRY]),
      'GET containers': () => json(200, [CONTAINER])
    });
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    const changed = jest.fn();
    model.changed.connect(changed);

    await model.refresh();
    expect(model.available).toBe(true);
    expect(model.me?.name).toBe('alice');
    expect(model.application('m1')).toEqual(ENTRY);
    expect(model.container('u1')).toEqual(CONTAINER);
    expect(changed).toHaveBeenCalledTimes(1);

    // The same answer again: no change signal.
    await model.refresh();
    expect(changed).toHaveBeenCalledTimes(1);
  });

  it('starts with progress and returns the container', async () => {
    const progress: IStartProgress[] = [
      { stage: 'creating', message: 'Creating the container' },
      { stage: 'waiting', message: 'Waiting for the app' }
    ];
    const { settings, requests } = fakeServer({
      'GET me': () => json(200, ME),
      'GET applications': () => json(200, [ENTRY]),
      'GET containers': () => json(200, []),
      'POST containers': () =>
        sse([
          ['progress', progress[0]],
          ['progress', progress[1]],
          ['ready', CONTAINER]
        ])
    });
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    const seen: string[] = [];
    model.startProgress.connect((_, { progress }) => seen.push(progress.stage));

    const container = await model.start({
      mapping_id: 'm1',
      configurables: { resolution: '800x600' }
    });
    expect(container).toEqual(CONTAINER);
    expect(seen).toEqual(['creating', 'waiting', 'done']);
    const post = requests.find(r => r.method === 'POST')!;
    expect(post.headers.get('Accept')).toBe('text/event-stream');
    await expect(post.json()).resolves.toEqual({
      mapping_id: 'm1',
      configurables: { resolution: '800x600' }
    });
  });

  it('raises the status and message of an error event', async () => {
    const { settings } = fakeServer({
      'POST containers': () =>
        sse([
          ['progress', { stage: 'image', message: 'Checking' }],
          ['error', { status: 502, message: 'the app did not answer' }]
        ])
    });
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    const error = await model.start({ mapping_id: 'm1' }).catch(e => e);
    expect(error).toBeInstanceOf(RemoteAppRequestError);
    expect(error.status).toBe(502);
    expect(error.message).toBe('the app did not answer');
  });

  it('raises a JSON error answered before the stream', async () => {
    const { settings } = fakeServer({
      'POST containers': () =>
        json(409, { status: 409, message: 'in progress' })
    });
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    const error = await model.start({ mapping_id: 'm1' }).catch(e => e);
    expect(error.status).toBe(409);
    expect(error.message).toBe('in progress');
  });

  it('stops idempotently and forgets the container', async () => {
    let containers = [CONTAINER];
    const { settings } = fakeServer({
      'GET me': () => json(200, ME),
      'GET applications': () => json(200, [ENTRY]),
      'GET containers': () => json(200, containers),
      'DELETE containers/u1': () => {
        containers = [];
        return new Response(null, { status: 404 });
      }
    });
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    await model.refresh();
    expect(model.containers).toHaveLength(1);
    await model.stop('u1');
    expect(model.container('u1')).toBeUndefined();
  });

  it('is unavailable when the server fails', async () => {
    const { settings } = fakeServer({});
    model = new RemoteAppsModel({ serverSettings: settings, autoStart: false });
    await model.refresh().catch(() => undefined);
    expect(model.available).toBe(false);
  });
});
