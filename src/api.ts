import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE } from './tokens';

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

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new RemoteAppRequestError(
      `Cannot reach the server: ${(error as Error)?.message ?? error}`,
      0
    );
  }

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
