/**
 * Shared identifiers and the REST payload types of the remoteapp extension.
 *
 * This module has no side effects beyond creating the token: it can be
 * imported from anywhere (plugins, widgets, tests). The payload types follow
 * `remoteapp_server/openapi.yaml`.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { Poll } from '@lumino/polling';
import type { ISignal } from '@lumino/signaling';
import type { ServerConnection } from '@jupyterlab/services';

import type { RemoteAppsRestClient } from './api';

/**
 * The id of the core plugin; also the key of its settings (schema/plugin.json).
 */
export const PLUGIN_ID = 'remoteapp:plugin';

/**
 * The URL namespace of the server extension's REST API, below the base URL.
 */
export const API_NAMESPACE = 'remoteapp/api';

/**
 * The translation domain of the extension.
 */
export const TRANSLATION_DOMAIN = 'remoteapp';

/**
 * The launcher category of the application cards.
 */
export const LAUNCHER_CATEGORY = 'Remote Apps';

/**
 * The command ids of the extension.
 */
export namespace CommandIDs {
  /** Start an application (args: `mapping_id`; optional `configurables` skips the dialog). */
  export const start = 'remoteapp:start';
  /** Open a running container in a Lab tab (args: `url_id`). */
  export const open = 'remoteapp:open';
  /** Open a running container in a new browser tab (args: `url_id`). */
  export const openInBrowserTab = 'remoteapp:open-in-browser-tab';
  /** Stop a running container (args: `url_id`). */
  export const stop = 'remoteapp:stop';
  /** Show the logs of a container in a read-only tab (args: `url_id`). */
  export const logs = 'remoteapp:logs';
  /** Refresh the list of applications and containers. */
  export const refresh = 'remoteapp:refresh';
  /** Show the Remote Apps sidebar. */
  export const showSidebar = 'remoteapp:show-sidebar';
  /** Show the admin sidebar (admins only). */
  export const showAdmin = 'remoteapp:show-admin';
}

/**
 * The kind of an application image.
 */
export type ApplicationType = 'vncapp' | 'webapp';

/**
 * An error answer of the API: `{status, message}`.
 */
export interface IErrorBody {
  status: number;
  message: string;
}

/**
 * `GET me`: who the current user is.
 */
export interface IMe {
  /** The user name. */
  name: string;
  /** Whether the user may administrate users, applications and grants. */
  admin: boolean;
  /** The JupyterHub groups of the user. */
  groups: string[];
  /** The scopes granted to the user (JupyterHub scopes, or local ones). */
  scopes: string[];
  /** How the server runs. */
  mode: 'personal' | 'hub-direct' | 'hub';
  /**
   * The origin apps are served from (e.g. `http://127.0.0.1:8888`), null when
   * they are served from the Lab's own origin. Missing from older servers.
   */
  apps_origin?: string | null;
  /**
   * Whether apps run on an origin of their own; `false`: an app's scripts run
   * on the Lab's origin (the Lab shows a warning). Missing from older servers.
   */
  apps_isolated?: boolean;
}

/**
 * What a user may choose when starting an application.
 */
export interface IConfigurable {
  /** `resolution` (WIDTHxHEIGHT) or `startupdata` (a path below the home). */
  tag: 'resolution' | 'startupdata' | string;
  /** The default value. */
  default: string;
  /** Suggested values. */
  presets?: string[];
  /** The smallest value allowed (e.g. `640x480`). */
  min?: string;
  /** The largest value allowed (e.g. `3840x2160`). */
  max?: string;
}

/**
 * An application image as the server describes it.
 */
export interface IImage {
  /** The docker image name (repository:tag). */
  name: string;
  /** The human readable name. */
  ui_name: string;
  /** A short description. */
  description: string;
  /** A 128x128 base64 PNG; empty when there is none. */
  icon_128: string;
  /** The kind of application. */
  type: ApplicationType;
  /** The settings the user can choose at start. */
  configurables: IConfigurable[];
}

/**
 * The policy that governs how an application is started for the user.
 */
export interface IPolicy {
  /** The user's home directory is mounted in the container. */
  allow_home: boolean;
  /** The container may be viewed by others (sharing). */
  allow_view: boolean;
  /** A common volume is mounted. */
  allow_common: boolean;
  /** The host path of an additional volume, or empty. */
  volume_source: string;
  /** The mount point of the additional volume in the container. */
  volume_target: string;
  /** The mode of the additional volume. */
  volume_mode: '' | 'ro' | 'rw';
  /** A license passed to the application as `APP_LICENSE`. */
  app_license: string;
  /** The user may pass a file of the home as startup data. */
  allow_startup_data: boolean;
}

/**
 * The progress of a start: `{stage, message}`.
 */
export interface IStartProgress {
  /**
   * `image`, `pulling`, `creating`, `starting`, `waiting` or `ready`; the
   * model adds `done` when a start from this page is over.
   */
  stage: string;
  /** A human readable message. */
  message: string;
}

/**
 * `GET applications`: one application the user may start.
 */
export interface IApplicationEntry {
  /** The id of the (user or group, image, policy) grant. */
  mapping_id: string;
  /** The image the application runs. */
  image: IImage;
  /** The policy the application is started with. */
  policy: IPolicy;
  /** The `url_id`s of the user's running containers of this entry. */
  containers: string[];
  /** The progress of a start in flight, or null. */
  starting: IStartProgress | null;
}

/**
 * The user's choices when starting an application.
 */
export interface IStartConfigurables {
  /** WIDTHxHEIGHT (or WIDTHxHEIGHTxDEPTH). */
  resolution?: string;
  /** A path relative to the home. */
  startupdata?: string;
}

/**
 * `POST containers`: what to start.
 */
export interface IStartRequest {
  mapping_id: string;
  configurables?: IStartConfigurables;
}

/**
 * `GET containers`: one container.
 */
export interface IContainer {
  /** The opaque id of the container in URLs. */
  url_id: string;
  /** The grant the container was started from. */
  mapping_id: string;
  /** The owner. */
  user: string;
  /** The docker image name. */
  image: string;
  /** The human readable name of the application. */
  ui_name: string;
  /** The kind of application. */
  type: ApplicationType;
  /**
   * Where the app is served: an absolute URL on the apps origin (a path on
   * the Lab's origin in the same-origin fallback and on older servers). The
   * browser gets there through a ticket (`POST containers/{url_id}/ticket`).
   */
  url: string;
  /** `running`, `stopped`, or docker's own state word. */
  status: string;
  /** When the container was started (ISO 8601 UTC). */
  started_at: string;
}

/**
 * `POST containers/{url_id}/ticket`: a short-lived, single-use URL on the apps
 * origin that sets the apps-session cookie and redirects to the app.
 */
export interface ITicket {
  /** `<apps origin><prefix>apps-session?ticket=<t>`: put it in the iframe. */
  url: string;
  /** Seconds the ticket is valid. */
  expires_in: number;
}

/**
 * What an app tab's iframe loads.
 */
export interface IFrameTarget {
  /** The URL to load: a ticket URL, or the app's own URL without tickets. */
  url: string;
  /**
   * Where to go once `url` has loaded, when that is not the app's root (the
   * ticket redirects to the root; desktop apps show noVNC's page); else null.
   */
  next: string | null;
  /** Whether `url` is a ticket URL (false: an older server without tickets). */
  ticketed: boolean;
}

/**
 * `GET containers/{url_id}/logs`.
 */
export interface ILogs {
  url_id: string;
  logs: string;
}

/**
 * A page of an admin listing.
 */
export interface IPage<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number | null;
}

/**
 * Which page of an admin listing to fetch (`?offset=&limit=`).
 */
export interface IPageRequest {
  /** The index of the first item (default 0). */
  offset?: number;
  /** The most items to return (default: all of them). */
  limit?: number;
}

/**
 * The selectors of `GET admin/grants`: each is an exact name; empty means any.
 */
export interface IGrantFilter {
  /** Grants of this docker image. */
  image?: string;
  /** Grants to this user. */
  user?: string;
  /** Grants to this JupyterHub group. */
  group?: string;
}

/**
 * `admin/users` item.
 */
export interface IUser {
  name: string;
  grants: number;
}

/**
 * `admin/applications` item.
 */
export interface IApplicationRecord {
  image: string;
  /** Docker has the image. */
  available: boolean;
  info: IImage;
}

/**
 * `admin/grants` item.
 */
export interface IGrant {
  mapping_id: string;
  image: string;
  user: string | null;
  group: string | null;
  policy: IPolicy;
}

/**
 * `POST admin/grants` policy: all fields optional, `volume` is `SOURCE:TARGET:ro|rw`.
 */
export interface IGrantPolicy {
  allow_home?: boolean;
  allow_view?: boolean;
  allow_common?: boolean;
  volume?: string;
  app_license?: string;
  allow_startup_data?: boolean;
}

/**
 * `POST admin/grants`.
 */
export interface IGrantRequest {
  image: string;
  user?: string;
  group?: string;
  policy?: IGrantPolicy;
}

/**
 * `admin/images` item: a docker image with remoteapp labels.
 */
export interface IImageInfo extends IImage {
  /** An application of this image exists. */
  registered: boolean;
  /** Labels that were ignored, and why. */
  problems: string[];
}

/**
 * `admin/stats`.
 */
export interface IStats {
  users: number;
  applications: number;
  grants: number;
  containers: {
    total: number;
    running: number;
    users: number;
    per_image: { [image: string]: number };
  };
}

/**
 * The model of the user's applications and containers, shared by the UI.
 */
export interface IRemoteApps extends IDisposable {
  /** The current user, once known (see `getMe`). */
  readonly me: IMe | null;
  /**
   * The current user: `GET me`, asked once and shared by every plugin (asked
   * again only after a failure).
   */
  getMe(): Promise<IMe>;
  /** The applications the user may start. */
  readonly applications: ReadonlyArray<IApplicationEntry>;
  /** The user's containers. */
  readonly containers: ReadonlyArray<IContainer>;
  /** Whether the server extension answered the last refresh. */
  readonly available: boolean;
  /** Emitted when `me`, `applications` or `containers` change. */
  readonly changed: ISignal<IRemoteApps, void>;
  /** Emitted with the progress of starts made from this page. */
  readonly startProgress: ISignal<
    IRemoteApps,
    { mappingId: string; progress: IStartProgress }
  >;
  /** The poll that refreshes the model. */
  readonly poll: Poll;
  /** The REST API client (same server settings). */
  readonly api: RemoteAppsRestClient;
  /** The server settings used for all requests. */
  readonly serverSettings: ServerConnection.ISettings;
  /** Fetch the current state from the server now. */
  refresh(): Promise<void>;
  /** Find an application entry by its mapping id. */
  application(mappingId: string): IApplicationEntry | undefined;
  /** Find a container by its url id. */
  container(urlId: string): IContainer | undefined;
  /** Start an application, reporting progress; resolves with the container. */
  start(request: IStartRequest): Promise<IContainer>;
  /** Stop (and remove) a container. */
  stop(urlId: string): Promise<void>;
  /** The URL to show a container at (noVNC page for desktop apps). */
  viewURL(container: IContainer): string;
  /**
   * What an iframe (or a browser tab) loads to show `container`: a fresh
   * ticket URL, or the plain view URL when the server has no tickets (404).
   * Rejects with the request error otherwise (e.g. the container is gone).
   */
  frameTarget(container: IContainer): Promise<IFrameTarget>;
}

/**
 * The token of the remote applications model.
 */
export const IRemoteApps = new Token<IRemoteApps>(
  'remoteapp:IRemoteApps',
  'The remote applications (dockerized desktop and web apps) of the user.'
);
