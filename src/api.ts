import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  API_NAMESPACE,
  IApplicationEntry,
  IApplicationRecord,
  IContainer,
  IErrorBody,
  IGrant,
  IGrantFilter,
  IGrantRequest,
  IImageInfo,
  ILogs,
  IMe,
  IPage,
  IPageRequest,
  IStartProgress,
  IStartRequest,
  IStats,
  ITicket,
  IUser
} from './tokens';

/**
 * A failed request to the remoteapp REST API.
 *
 * `status` is the HTTP status (0 when the server could not be reached) and
 * `message` the server's JSON `message` when it sent one.
 */
export class RemoteAppRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown = null
  ) {
    super(message);
    this.name = 'RemoteAppRequestError';
  }

  /**
   * Whether the endpoint does not exist (e.g. the server extension is not
   * enabled) or the requested object is unknown.
   */
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/**
 * Whether `error` says that the server has no such endpoint (an older server),
 * not that the object is unknown: a 404 or 405 without the API's JSON error
 * body (`{status, message}`), e.g. Jupyter's HTML "404: Not Found" page.
 */
export function isMissingEndpoint(error: unknown): boolean {
  if (!(error instanceof RemoteAppRequestError)) {
    return false;
  }
  if (error.status !== 404 && error.status !== 405) {
    return false;
  }
  const body = error.body as { message?: unknown } | null;
  return !(
    body !== null &&
    typeof body === 'object' &&
    typeof body.message === 'string'
  );
}

/**
 * Build the URL of an endpoint of the remoteapp REST API.
 *
 * @param endPoint the path below `remoteapp/api` (e.g. `me`, `containers/ID`)
 * @param settings the server settings (defaults to `ServerConnection.makeSettings()`)
 */
export function apiURL(
  endPoint = '',
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  return URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
}

/**
 * `ServerConnection.makeRequest`, with a network failure as a request error (status 0).
 */
async function reach(
  url: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
): Promise<Response> {
  try {
    return await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new RemoteAppRequestError(
      `Cannot reach the server: ${(error as Error)?.message ?? error}`,
      0
    );
  }
}

/**
 * Call the remoteapp REST API.
 *
 * @param endPoint the path below `remoteapp/api` (e.g. `me`, `containers/ID`)
 * @param init initial values of the request (method, body, ...)
 * @param settings the server settings (defaults to `ServerConnection.makeSettings()`)
 * @returns the response body parsed as JSON (`undefined` for an empty body)
 * @throws RemoteAppRequestError when the server cannot be reached or answers
 *   with an error status
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = apiURL(endPoint, settings);

  const response = await reach(url, init, settings);

  const text = await response.text();
  let data: any = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }

  if (!response.ok) {
    throw new RemoteAppRequestError(
      errorMessage(response, data),
      response.status,
      data ?? null
    );
  }

  return data as T;
}

/**
 * The message of an error response: the server's JSON `message` (or
 * `reason`), else the status text.
 */
function errorMessage(response: Response, data: any): string {
  if (data && typeof data === 'object') {
    for (const key of ['message', 'reason']) {
      const value = data[key];
      if (typeof value === 'string' && value.length > 0) {
        return value;
      }
    }
  }
  return response.statusText || `HTTP error ${response.status}`;
}

/**
 * An endpoint with a query string of the given parameters; `undefined`, `null`
 * and empty values are left out (an empty grant filter means "any").
 */
export function withQuery(
  endPoint: string,
  params: { [key: string]: string | number | null | undefined }
): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      query.append(key, String(value));
    }
  }
  const text = query.toString();
  return text ? `${endPoint}?${text}` : endPoint;
}

/**
 * JSON request options.
 */
function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

/**
 * One server-sent event.
 */
export interface IServerSentEvent {
  /** The `event:` field (`message` when there is none). */
  event: string;
  /** The `data:` lines, joined with newlines. */
  data: string;
}

/**
 * Split a text/event-stream into events as the bytes arrive.
 *
 * Why not `EventSource`: it only does GET and cannot send the Jupyter
 * token or the XSRF header that `ServerConnection` adds to a POST.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>
): AsyncGenerator<IServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done
        ? decoder.decode()
        : decoder.decode(value, { stream: true });
      buffer = buffer.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseEventBlock(block);
        if (parsed) {
          yield parsed;
        }
      }
      if (done) {
        const parsed = parseEventBlock(buffer);
        if (parsed) {
          yield parsed;
        }
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parseEventBlock(block: string): IServerSentEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) {
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'event') {
      event = value;
    } else if (field === 'data') {
      data.push(value);
    }
  }
  return data.length > 0 ? { event, data: data.join('\n') } : null;
}

/**
 * Start an application and follow its progress (`POST containers` with
 * `Accept: text/event-stream`).
 *
 * @param onProgress called with every `progress` event
 * @returns the container, from the final `ready` event
 * @throws RemoteAppRequestError from the `error` event, or when the request fails
 */
export async function startContainerWithProgress(
  request: IStartRequest,
  onProgress: (progress: IStartProgress) => void,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<IContainer> {
  const url = apiURL('containers', settings);
  const init = jsonBody('POST', request);
  init.headers = { ...init.headers, Accept: 'text/event-stream' };
  const response = await reach(url, init, settings);
  const contentType = response.headers.get('Content-Type') ?? '';
  if (!response.ok || !contentType.includes('text/event-stream')) {
    // An error before the stream began (e.g. 404 unknown mapping), or a
    // server that answered with plain JSON.
    const text = await response.text();
    let data: any = text;
    try {
      data = JSON.parse(text);
    } catch {
      // keep the text
    }
    if (!response.ok) {
      throw new RemoteAppRequestError(
        errorMessage(response, data),
        response.status,
        data
      );
    }
    return data as IContainer;
  }
  if (!response.body) {
    throw new RemoteAppRequestError('The server sent no progress stream', 0);
  }
  for await (const { event, data } of readServerSentEvents(response.body)) {
    const payload = JSON.parse(data);
    if (event === 'progress') {
      onProgress(payload as IStartProgress);
    } else if (event === 'ready') {
      return payload as IContainer;
    } else if (event === 'error') {
      const body = payload as IErrorBody;
      throw new RemoteAppRequestError(body.message, body.status, body);
    }
  }
  throw new RemoteAppRequestError(
    'The progress stream ended before the application was ready',
    0
  );
}

/**
 * Typed calls of the REST API, bound to one set of server settings.
 *
 * (Not to be confused with the Python side: `RemoteApp` is the server's
 * configuration, `RemoteApps` its core, `RemoteAppApi` a handler mixin.)
 */
export class RemoteAppsRestClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  private _request<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(endPoint, init, this.serverSettings);
  }

  me(): Promise<IMe> {
    return this._request<IMe>('me');
  }

  applications(): Promise<IApplicationEntry[]> {
    return this._request<IApplicationEntry[]>('applications');
  }

  containers(): Promise<IContainer[]> {
    return this._request<IContainer[]>('containers');
  }

  container(urlId: string): Promise<IContainer> {
    return this._request<IContainer>(`containers/${encodeURIComponent(urlId)}`);
  }

  start(request: IStartRequest): Promise<IContainer> {
    return this._request<IContainer>('containers', jsonBody('POST', request));
  }

  startWithProgress(
    request: IStartRequest,
    onProgress: (progress: IStartProgress) => void
  ): Promise<IContainer> {
    return startContainerWithProgress(request, onProgress, this.serverSettings);
  }

  async stop(urlId: string): Promise<void> {
    await this._request(`containers/${encodeURIComponent(urlId)}`, {
      method: 'DELETE'
    });
  }

  /**
   * A short-lived, single-use URL that opens the container on the apps origin
   * (owner or admin). Older servers answer 404 (see `isMissingEndpoint`).
   */
  ticket(urlId: string): Promise<ITicket> {
    return this._request<ITicket>(
      `containers/${encodeURIComponent(urlId)}/ticket`,
      { method: 'POST' }
    );
  }

  logs(urlId: string, tail = 1000): Promise<ILogs> {
    return this._request<ILogs>(
      `containers/${encodeURIComponent(urlId)}/logs?tail=${tail}`
    );
  }

  // Admin endpoints (scope custom:remoteapp:admin).

  /** A page of the users (all of them without `limit`). */
  users(page: IPageRequest = {}): Promise<IPage<IUser>> {
    return this._request<IPage<IUser>>(withQuery('admin/users', { ...page }));
  }

  createUser(name: string): Promise<IUser> {
    return this._request<IUser>('admin/users', jsonBody('POST', { name }));
  }

  async removeUser(name: string): Promise<void> {
    await this._request(`admin/users/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
  }

  /** A page of the registered applications. */
  adminApplications(
    page: IPageRequest = {}
  ): Promise<IPage<IApplicationRecord>> {
    return this._request<IPage<IApplicationRecord>>(
      withQuery('admin/applications', { ...page })
    );
  }

  createApplication(image: string, verify = true): Promise<IApplicationRecord> {
    return this._request<IApplicationRecord>(
      'admin/applications',
      jsonBody('POST', { image, verify })
    );
  }

  async removeApplication(image: string): Promise<void> {
    await this._request(`admin/applications/${encodeURIComponent(image)}`, {
      method: 'DELETE'
    });
  }

  /** A page of the grants matching every non-empty selector of `query`. */
  grants(query: IPageRequest & IGrantFilter = {}): Promise<IPage<IGrant>> {
    return this._request<IPage<IGrant>>(
      withQuery('admin/grants', { ...query })
    );
  }

  grant(request: IGrantRequest): Promise<IGrant> {
    return this._request<IGrant>('admin/grants', jsonBody('POST', request));
  }

  async revoke(mappingId: string): Promise<void> {
    await this._request(`admin/grants/${encodeURIComponent(mappingId)}`, {
      method: 'DELETE'
    });
  }

  /** A page of every user's containers. */
  adminContainers(page: IPageRequest = {}): Promise<IPage<IContainer>> {
    return this._request<IPage<IContainer>>(
      withQuery('admin/containers', { ...page })
    );
  }

  async adminStop(urlId: string): Promise<void> {
    await this._request(`admin/containers/${encodeURIComponent(urlId)}`, {
      method: 'DELETE'
    });
  }

  /** A page of the docker images with remoteapp labels (all without `limit`). */
  images(page: IPageRequest = {}): Promise<IPage<IImageInfo>> {
    return this._request<IPage<IImageInfo>>(
      withQuery('admin/images', { ...page })
    );
  }

  stats(): Promise<IStats> {
    return this._request<IStats>('admin/stats');
  }
}
